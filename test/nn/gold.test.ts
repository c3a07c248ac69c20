/**
 * GPT-2 gold test against PyTorch (fixtures made by scripts/gold/make_tiny.py with Debian's python3-torch,
 * committed): logits, loss, every parameter gradient (the tied embedding's is the sum of both uses), then 10 AdamW
 * steps with global-norm clipping — on every available backend (the suite: gold-suite.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadHfGpt2 } from '../../src/io/hf-gpt2.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { goldSuite } from './gold-suite.js';

goldSuite({
  name: 'gold',
  fixtures: { '': join('test', 'fixtures', 'gold', 'tiny') },
  load: async (dir) => {
    const { config, tensors } = await loadHfGpt2(dir);
    return { config: { ...config, dropout: 0 }, tensors };
  },
  build: buildGpt2,
  /**
   * A few times the largest error measured on js, cpu and webgpu (llvmpipe) against PyTorch's float64 reference —
   * logits 2.1e-7, loss 1.6e-8 (webgpu; js/cpu 2.7e-10), gradients 4.2e-7, step losses 1.2e-7 (webgpu; js/cpu
   * 4.6e-8), final parameters after 10 AdamW steps 2.6e-5 (Adam divides by √v, which magnifies float32 rounding in
   * small gradients) — so that a kernel that loses a few bits fails here.
   */
  tol: { logits: 1e-6, loss: 5e-8, grad: 2e-6, stepLoss: 5e-7, final: 1e-4 },
  checkConfig: (config) => assert.equal(config.tie, true, 'the gold model ties its head to the embedding'),
});
