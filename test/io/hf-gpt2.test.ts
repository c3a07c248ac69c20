import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { expectedGpt2Shapes, HfGpt2Error, hfGpt2Weights, loadHfGpt2, saveHfGpt2 } from '../../src/io/hf-gpt2.js';
import { gpt2ConfigFromHf, gpt2ConfigToHf } from '../../src/io/hf-gpt2-config.js';
import { readSafetensorsHeader, writeSafetensors } from '../../src/io/safetensors.js';
import { assertSameTensors, bits, hashedTensors } from './hf-tensors.js';

const root = mkdtempSync(join(tmpdir(), 'hydra-hf-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));
const tiny = (tie: boolean): Gpt2Config => ({ n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 16, vocab_size: 50, dropout: 0.1, tie });

const makeTensors = (config: Gpt2Config): Map<string, HostTensor> => hashedTensors(expectedGpt2Shapes(config));

test('expectedGpt2Shapes: Hugging Face names and Conv1D (in, out) layouts', () => {
  const s = expectedGpt2Shapes(tiny(true));
  assert.deepEqual(s.get('wte.weight'), [50, 8]);
  assert.deepEqual(s.get('wpe.weight'), [16, 8]);
  assert.deepEqual(s.get('h.1.attn.c_attn.weight'), [8, 24]);
  assert.deepEqual(s.get('h.1.attn.c_attn.bias'), [24]);
  assert.deepEqual(s.get('h.0.mlp.c_fc.weight'), [8, 32]);
  assert.deepEqual(s.get('h.0.mlp.c_proj.weight'), [32, 8]);
  assert.deepEqual(s.get('ln_f.bias'), [8]);
  assert.equal(s.size, 2 + 2 * 12 + 2);
  assert.equal(s.has('lm_head.weight'), false);
  assert.deepEqual(expectedGpt2Shapes(tiny(false)).get('lm_head.weight'), [50, 8]);
});

for (const tie of [true, false]) {
  test(`saveHfGpt2 -> loadHfGpt2 is bit-identical (${tie ? 'tied' : 'untied'} head) and writes what GPT2LMHeadModel expects`, async () => {
    const dir = tmp();
    const config = tiny(tie);
    const tensors = makeTensors(config);
    await saveHfGpt2(dir, config, tensors);
    const header = await readSafetensorsHeader(join(dir, 'model.safetensors'));
    assert.deepEqual(header.metadata, { format: 'pt' });
    const names = header.entries.map((e) => e.name);
    assert.ok(names.includes('transformer.wte.weight') && names.includes('transformer.h.1.mlp.c_proj.bias'));
    assert.equal(names.includes('lm_head.weight'), !tie, 'lm_head.weight only when untied, without prefix');
    assert.ok(names.every((n) => n.startsWith('transformer.') || n === 'lm_head.weight'));
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(hf.model_type, 'gpt2');
    assert.deepEqual(hf.architectures, ['GPT2LMHeadModel']);
    assert.equal(hf.n_positions, 16);
    assert.equal(hf.tie_word_embeddings, tie);
    assert.equal(hf.activation_function, 'gelu_new');
    const loaded = await loadHfGpt2(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.warnings, []);
    assertSameTensors(loaded.tensors, tensors);
  });
}

test('loadHfGpt2 reads the original hub layout: no prefix, attn.bias/masked_bias buffers, stored lm_head equal to wte', async () => {
  const dir = tmp();
  const config = tiny(true);
  const tensors = makeTensors(config);
  const file = new Map(tensors);
  file.set('h.0.attn.bias', { shape: [1, 1, 16, 16], data: new Float32Array(256).fill(1) });
  file.set('h.0.attn.masked_bias', { shape: [], data: Float32Array.from([-1e4]) });
  file.set('lm_head.weight', { shape: [50, 8], data: tensors.get('wte.weight')!.data.slice() });
  await writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt2', activation_function: 'gelu_new', n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 16, n_positions: 16,
    vocab_size: 50, resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, layer_norm_epsilon: 1e-5,
  }));
  const loaded = await loadHfGpt2(dir);
  assert.deepEqual(loaded.config, config);
  assertSameTensors(loaded.tensors, tensors);
  assert.equal(loaded.warnings.length, 1);
  assert.match(loaded.warnings[0], /attn_pdrop=0\.1 .* not modelled/);
});

test('hfGpt2Weights: config and headers checked up front; read() puts each tensor straight into the array into() gives, once', async () => {
  const dir = tmp();
  const config = tiny(true);
  const tensors = makeTensors(config);
  // The hub layout with a stored (tied) head: it is compared with wte in an array of its own, never handed out.
  const file = new Map(tensors);
  file.set('lm_head.weight', { shape: [50, 8], data: tensors.get('wte.weight')!.data.slice() });
  await writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  const { config: read, source } = await hfGpt2Weights(dir);
  assert.deepEqual(read, config);
  assert.equal(source.describe, dir);
  const given = new Map<string, Float32Array>();
  await source.read((name, n) => {
    assert.ok(!given.has(name), `${name} asked for once`);
    const a = new Float32Array(new SharedArrayBuffer(n * 4)); // as the host tier's arrays are
    given.set(name, a);
    return a;
  });
  assert.deepEqual([...given.keys()].sort(), [...tensors.keys()].sort(), 'every parameter, and nothing else');
  for (const [name, t] of tensors) assert.deepEqual(bits(given.get(name)!), bits(t.data), name);

  // A mis-shaped tensor is refused from the headers, before any read is asked for.
  const bad = tmp();
  const wrong = new Map(tensors);
  wrong.set('wpe.weight', { shape: [15, 8], data: new Float32Array(120) });
  await writeSafetensors(join(bad, 'model.safetensors'), wrong, { format: 'pt' });
  writeFileSync(join(bad, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  await assert.rejects(hfGpt2Weights(bad), /wrong shape: wpe\.weight \[15, 8\], expected \[16, 8\]/);
});

test('loadHfGpt2 reads a sharded model.safetensors.index.json', async () => {
  const dir = tmp();
  const config = tiny(true);
  const tensors = makeTensors(config);
  const names = [...tensors.keys()];
  const part = (list: string[]) => new Map(list.map((n) => [`transformer.${n}`, tensors.get(n)!]));
  await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), part(names.slice(0, 10)), { format: 'pt' });
  await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), part(names.slice(10)), { format: 'pt' });
  const weightMap = Object.fromEntries(names.map((n, i) => [`transformer.${n}`, i < 10 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  assertSameTensors((await loadHfGpt2(dir)).tensors, tensors);
});

test('loadHfGpt2 lists missing, unexpected and mis-shaped tensors in one clear error', async () => {
  const dir = tmp();
  const config = tiny(true);
  const tensors = makeTensors(config);
  tensors.delete('h.1.ln_2.bias');
  tensors.delete('ln_f.weight');
  tensors.set('h.7.extra.weight', { shape: [1], data: new Float32Array(1) });
  tensors.set('wpe.weight', { shape: [8, 8], data: new Float32Array(64) });
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  await assert.rejects(loadHfGpt2(dir), (err: Error) => {
    assert.ok(err instanceof HfGpt2Error);
    assert.match(err.message, /missing: h\.1\.ln_2\.bias, ln_f\.weight/);
    assert.match(err.message, /unexpected: h\.7\.extra\.weight/);
    assert.match(err.message, /wrong shape: wpe\.weight \[8, 8\], expected \[16, 8\]/);
    return true;
  });
});

test('loadHfGpt2 refuses a tied config whose stored lm_head differs from wte, and a missing weights file', async () => {
  const dir = tmp();
  const config = tiny(true);
  const file = makeTensors(config);
  file.set('lm_head.weight', { shape: [50, 8], data: new Float32Array(400) });
  await writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  await assert.rejects(loadHfGpt2(dir), /tie_word_embeddings=true but lm_head\.weight differs from wte\.weight/);
  const empty = tmp();
  writeFileSync(join(empty, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  writeFileSync(join(empty, 'pytorch_model.bin'), '');
  await assert.rejects(loadHfGpt2(empty), /no model\.safetensors .*found pytorch_model\.bin/);
  await assert.rejects(loadHfGpt2(tmp()), /no config\.json/);
});

test('gpt2ConfigFromHf: defaults, n_positions, dropout override, and refusals naming field, value and accepted values', () => {
  const base = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
  const { config, warnings } = gpt2ConfigFromHf(base);
  assert.deepEqual(config, { n_layer: 12, n_head: 12, n_embd: 768, n_ctx: 1024, vocab_size: 50257, dropout: 0.1, tie: true });
  assert.equal(warnings.length, 1, 'default attn_pdrop 0.1 is reported as not modelled');
  assert.equal(gpt2ConfigFromHf({ ...base, dropout: undefined }, 'c', { dropout: 0 }).config.dropout, 0);
  assert.equal(gpt2ConfigFromHf({ ...base, n_positions: undefined, n_ctx: 256 }).config.n_ctx, 256);
  assert.equal(gpt2ConfigFromHf({ ...base, tie_word_embeddings: false }).config.tie, false);
  assert.throws(() => gpt2ConfigFromHf({ ...base, activation_function: 'relu' }, 'cfg.json'), /cfg\.json: 'activation_function' = "relu" is not supported \(accepted: 'gelu_new' or 'gelu_pytorch_tanh'/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, n_inner: 1000 }), /'n_inner' = 1000 is not supported \(accepted: null or 4 \* n_embd = 3072\)/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, layer_norm_epsilon: 1e-6 }), /'layer_norm_epsilon' = 0\.000001 is not supported/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, model_type: 'llama' }), /'model_type' = "llama"/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, n_head: 7 }), /n_embd=768 must be divisible by model\.n_head=7/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, n_layer: 0 }), /'n_layer' must be a positive integer, got 0/);
  assert.throws(() => gpt2ConfigFromHf({ ...base, resid_pdrop: 1.5 }), /'resid_pdrop' must be a probability in \[0, 1\), got 1\.5/);
  const hf = gpt2ConfigToHf({ ...config, vocab_size: 50257 });
  assert.equal(hf.bos_token_id, 50256);
  assert.deepEqual(gpt2ConfigFromHf(hf).config, config);
});
