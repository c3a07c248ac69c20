/**
 * Llama gold test against PyTorch (fixtures made by scripts/gold/make_llama_tiny.py, committed): a tiny Llama with
 * grouped-query attention (4 query heads over 2 kv heads), tied and untied, loaded from Hugging Face's
 * LlamaForCausalLM layout — logits, loss, every parameter gradient, then 10 clipped AdamW steps' losses and final
 * parameters, on every available backend (the suite: gold-suite.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadHfLlama } from '../../src/io/hf-llama.js';
import { buildLlama } from '../../src/nn/llama.js';
import { goldSuite } from './gold-suite.js';

const dir = (variant: string) => join('test', 'fixtures', 'gold', 'llama-tiny', variant);

goldSuite({
  name: 'gold llama',
  fixtures: { tied: dir('tied'), untied: dir('untied') },
  load: loadHfLlama,
  build: buildLlama,
  tol: { logits: 1e-5, loss: 1e-5, grad: 1e-4, stepLoss: 1e-4, final: 1e-4 },
  checkConfig: (config, variant) => {
    assert.equal(config.tie, variant === 'tied');
    assert.ok(config.n_kv_head < config.n_head, 'the fixture uses grouped-query attention');
  },
});
