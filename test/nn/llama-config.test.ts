/** Llama presets are the real shapes (parameter counts as published) and bad configs are refused naming the field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLlama, llamaConfig } from '../../src/nn/llama.js';
import { LLAMA_PRESETS, resolveLlamaConfig } from '../../src/nn/llama-config.js';
import { paramCount } from '../../src/nn/model.js';

test('llama presets: parameter counts of the real checkpoints', () => {
  // SmolLM2-135M 134,515,008; SmolLM2-360M 361,821,120; TinyLlama-1.1B 1,100,048,384; Llama-3.2-1B 1,235,814,400.
  const want: Record<string, number> = { 'smollm2-135m': 134515008, 'smollm2-360m': 361821120, 'tinyllama-1.1b': 1100048384, 'llama-3.2-1b': 1235814400 };
  for (const [preset, n] of Object.entries(want)) assert.equal(paramCount(buildLlama(llamaConfig(preset))), n, preset);
  assert.ok(Object.keys(LLAMA_PRESETS).includes('llama-tiny'));
});

test('llama config: chain order, names and GQA shapes; overrides and custom shapes', () => {
  const m = buildLlama(llamaConfig('llama-tiny', { n_layer: 3 }));
  assert.deepEqual(m.layers.map((l) => l.name), ['embed', 'layers.0', 'layers.1', 'layers.2', 'norm', 'lm_head']);
  assert.deepEqual(m.params.find((p) => p.name === 'layers.0.self_attn.k_proj.weight')!.shape, [32, 64]);
  assert.ok(!m.params.some((p) => p.name === 'lm_head.weight'), 'llama-tiny ties its head');
  const custom = resolveLlamaConfig({ n_layer: 1, n_head: 6, n_embd: 96 });
  assert.deepEqual([custom.n_kv_head, custom.head_dim, custom.intermediate_size, custom.vocab_size, custom.tie], [6, 16, 256, 50257, false]);
});

test('llama config: errors name the field, the value and what is accepted', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ preset: 'smollm2-1b' }, /model\.preset: unknown Llama preset "smollm2-1b" \(accepted: llama-tiny, smollm2-135m/],
    [{ preset: 'llama-tiny', n_kv_head: 3 }, /model\.n_head=4 must be a multiple of model\.n_kv_head=3/],
    [{ preset: 'llama-tiny', head_dim: 7 }, /model\.head_dim must be even/],
    [{ preset: 'llama-tiny', rope_theta: -1 }, /model\.rope_theta must be a positive number, got -1/],
    [{ preset: 'llama-tiny', dropout: 0.1 }, /model\.dropout: unknown Llama field/],
    [{ n_layer: 2, n_head: 3, n_embd: 64 }, /model\.n_embd=64 must be divisible by model\.n_head=3 \(or set model\.head_dim\)/],
    [{ preset: 'llama-tiny', tie: 'yes' }, /model\.tie must be true or false/],
  ];
  for (const [fields, re] of bad) assert.throws(() => resolveLlamaConfig(fields), re, JSON.stringify(fields));
});
