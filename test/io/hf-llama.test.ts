/** Hugging Face LlamaForCausalLM layout: load, save, sharded index, tied heads, config translation and refusals. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { expectedLlamaShapes, HfLlamaError, hfLlamaWeights, isHfLlamaDir, loadHfLlama, saveHfLlama } from '../../src/io/hf-llama.js';
import { llamaConfigFromHf, llamaConfigToHf } from '../../src/io/hf-llama-config.js';
import { readSafetensorsHeader, writeSafetensors } from '../../src/io/safetensors.js';
import { llamaConfig } from '../../src/nn/llama.js';
import type { LlamaConfig } from '../../src/nn/llama-config.js';
import { assertSameTensors, hashedTensors } from './hf-tensors.js';

const root = mkdtempSync(join(tmpdir(), 'hydra-hf-llama-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));
const tiny = (tie: boolean): LlamaConfig => llamaConfig('llama-tiny', { n_layer: 2, n_embd: 16, n_head: 4, n_kv_head: 2, intermediate_size: 24, vocab_size: 40, tie });

const makeTensors = (config: LlamaConfig): Map<string, HostTensor> => hashedTensors(expectedLlamaShapes(config));

test('hf llama: the gold fixture loads with HF names mapped to ours (GQA shapes, untied head)', async () => {
  const { config, tensors } = await loadHfLlama(join('test', 'fixtures', 'gold', 'llama-tiny', 'untied'));
  assert.deepEqual({ n_head: config.n_head, n_kv_head: config.n_kv_head, head_dim: config.head_dim, tie: config.tie }, { n_head: 4, n_kv_head: 2, head_dim: 8, tie: false });
  assert.deepEqual(tensors.get('layers.1.self_attn.k_proj.weight')!.shape, [16, 32]);
  assert.deepEqual(tensors.get('lm_head.weight')!.shape, [67, 32]);
  assert.ok(isHfLlamaDir(join('test', 'fixtures', 'gold', 'llama-tiny', 'untied')));
  assert.ok(!isHfLlamaDir(join('test', 'fixtures', 'gold', 'hf-tiny')));
});

for (const tie of [true, false]) {
  test(`hf llama: save then load is bitwise (tie=${tie}); names and config as save_pretrained writes them`, async () => {
    const dir = tmp();
    const config = tiny(tie), tensors = makeTensors(config);
    await saveHfLlama(dir, config, tensors);
    const names = (await readSafetensorsHeader(join(dir, 'model.safetensors'))).entries.map((e) => e.name);
    assert.ok(names.includes('model.embed_tokens.weight') && names.includes('model.layers.1.mlp.down_proj.weight') && names.includes('model.norm.weight'));
    assert.equal(names.includes('lm_head.weight'), !tie);
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([json.model_type, json.num_key_value_heads, json.tie_word_embeddings, json.hidden_act], ['llama', 2, tie, 'silu']);
    const back = await loadHfLlama(dir);
    assert.deepEqual(back.config, config);
    assertSameTensors(back.tensors, tensors);
  });
}

test('hf llama: above maxShardBytes the weights are sharded with an index, and load back bitwise', async () => {
  const dir = tmp();
  const config = tiny(false), tensors = makeTensors(config);
  await saveHfLlama(dir, config, tensors, { maxShardBytes: 4096 });
  const shards = readdirSync(dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `expected several shards, got ${shards.join(', ')}`);
  assert.ok(!existsSync(join(dir, 'model.safetensors')));
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  assert.equal(Object.keys(index.weight_map).length, tensors.size);
  assert.equal(index.metadata.total_size, [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0));
  assertSameTensors((await loadHfLlama(dir)).tensors, tensors);
});

test('hf llama: a tied checkpoint may store its head only as a copy of the embedding; rotary buffers are skipped', async () => {
  const dir = tmp();
  const config = tiny(true), tensors = makeTensors(config);
  await saveHfLlama(dir, config, tensors);
  const file = new Map<string, HostTensor>([...tensors].map(([n, t]) => [`model.${n}`, t]));
  file.set('lm_head.weight', tensors.get('embed_tokens.weight')!);
  file.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [4], data: new Float32Array(4) });
  await writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
  assertSameTensors((await loadHfLlama(dir)).tensors, tensors);
  const other = { shape: tensors.get('embed_tokens.weight')!.shape, data: new Float32Array(tensors.get('embed_tokens.weight')!.data.length) };
  file.set('lm_head.weight', other);
  await writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
  await assert.rejects(loadHfLlama(dir), /tie_word_embeddings=true but lm_head.weight differs/);
});

test('hf llama: hfLlamaWeights reads each tensor of a sharded, tied checkpoint straight into the array into() gives, once', async () => {
  const dir = tmp();
  const config = tiny(true), tensors = makeTensors(config);
  await saveHfLlama(dir, config, tensors, { maxShardBytes: 4096 });
  const { config: read, source } = hfLlamaWeights(dir);
  assert.deepEqual(read, config);
  const given = new Map<string, Float32Array>();
  await source.read((name, n) => {
    assert.ok(!given.has(name), `${name} asked for once`);
    const a = new Float32Array(new SharedArrayBuffer(n * 4));
    given.set(name, a);
    return a;
  });
  assertSameTensors(new Map([...given].map(([n, data]) => [n, { shape: tensors.get(n)!.shape, data }])), tensors);
});

test('hf llama: a missing or mis-shaped tensor is named', async () => {
  const dir = tmp();
  const config = tiny(false), tensors = makeTensors(config);
  tensors.delete('layers.1.mlp.up_proj.weight');
  await assert.rejects(saveHfLlama(dir, config, tensors), (e: Error) => e instanceof HfLlamaError && /missing: layers\.1\.mlp\.up_proj\.weight/.test(e.message));
});

test('hf llama: config translation fills HF defaults and refuses what is not modelled, naming the field', () => {
  const base = llamaConfigToHf(tiny(true));
  assert.deepEqual(llamaConfigFromHf(base), tiny(true));
  const minimal = llamaConfigFromHf({ model_type: 'llama', hidden_size: 16, num_attention_heads: 4, num_hidden_layers: 1, intermediate_size: 32 });
  assert.deepEqual([minimal.n_kv_head, minimal.head_dim, minimal.rms_norm_eps, minimal.tie, minimal.vocab_size, minimal.rope_theta], [4, 4, 1e-6, false, 32000, 10000]);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, rope_scaling: { rope_type: 'llama3', factor: 32 } }, /'rope_scaling' = .* is not supported/],
    [{ ...base, hidden_act: 'gelu' }, /'hidden_act' = "gelu" is not supported \(accepted: 'silu'\)/],
    [{ ...base, attention_bias: true }, /'attention_bias'/],
    [{ ...base, model_type: 'gpt2' }, /'model_type' = "gpt2"/],
    [{ ...base, num_key_value_heads: 3 }, /n_head=4 must be a multiple of .*n_kv_head=3/],
    [{ ...base, hidden_size: undefined }, /'hidden_size' is missing/],
  ];
  for (const [cfg, re] of bad) assert.throws(() => llamaConfigFromHf(cfg, 'x/config.json'), (e: Error) => e instanceof HfLlamaError && re.test(e.message), JSON.stringify(re));
});

test('hf llama: a directory with no weights says what it found', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigToHf(tiny(true))));
  await assert.rejects(loadHfLlama(dir), /no model\.safetensors or model\.safetensors\.index\.json/);
});
