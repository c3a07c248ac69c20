/**
 * Gold test against PyTorch (fixtures made by scripts/gold/make_tiny.py with Debian's python3-torch, committed):
 * logits, loss, every parameter gradient (the tied embedding's is the sum of both uses), then the losses of 10 AdamW
 * steps with global-norm clipping — on every available backend, through the fused LM head + loss run in chunks of 8
 * rows (the batch's 39 rows: 4 full chunks and a partial one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfGpt2 } from '../../src/io/hf-gpt2.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { withHeadChunk } from '../../src/nn/lm-head.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { goldBackends } from './gold-backends.js';
import { relError } from '../backend/helpers.js';

const DIR = join('test', 'fixtures', 'gold', 'tiny');

/**
 * Relative-error tolerances: a few times the largest error measured on js, cpu and webgpu (llvmpipe) against
 * PyTorch's float64 reference — logits 2.1e-7, loss 1.6e-8 (webgpu; js/cpu 2.7e-10), gradients 4.2e-7, step losses
 * 1.2e-7 (webgpu; js/cpu 4.6e-8), final parameters after 10 AdamW steps 2.6e-5 (Adam divides by √v, which magnifies
 * float32 rounding in small gradients) — so that a kernel that loses a few bits fails here.
 */
const TOL = { logits: 1e-6, loss: 5e-8, grad: 2e-6, stepLoss: 5e-7, final: 1e-4 };

interface Expected {
  loss: number;
  train: { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_norm: number; steps: number; losses: number[] };
}


async function fixture() {
  const { config, tensors } = await loadHfGpt2(DIR);
  const batch = JSON.parse(readFileSync(join(DIR, 'batch.json'), 'utf8')) as { B: number; T: number; tokens: number[]; targets: number[] };
  const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
  const ref = (await readSafetensors(join(DIR, 'expected.safetensors'))).tensors;
  const b = { B: batch.B, T: batch.T, tokens: Int32Array.from(batch.tokens), targets: Int32Array.from(batch.targets) };
  const recipe: TrainRecipe = {
    optimizer: { kind: 'adamw', lr: expected.train.lr, beta1: expected.train.betas[0], beta2: expected.train.betas[1], eps: expected.train.eps, weightDecay: expected.train.weight_decay },
    schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 },
    clipNorm: expected.train.clip_norm,
    totalSteps: expected.train.steps,
    seed: 0,
  };
  return { config: { ...config, dropout: 0 }, tensors, b, expected, ref, recipe };
}

for (const backend of goldBackends()) {
  test(`gold (${backend.kind}): logits, loss and every gradient match PyTorch`, async (t) => {
    const be = await backend.create();
    if (!be) return t.skip(backend.skipReason);
    const f = await fixture();
    assert.equal(f.config.tie, true, 'the gold model ties its head to the embedding');
    const trainer = await LocalTrainer.create(be, withHeadChunk(buildGpt2(f.config), 8 * f.config.vocab_size * 4), f.tensors, f.recipe);
    const logits = await trainer.logits(f.b);
    const eLogits = relError(logits, f.ref.get('logits')!.data);
    assert.ok(eLogits <= TOL.logits, `logits relative error ${eLogits}`);
    const { loss, grads } = await trainer.gradients(f.b);
    assert.ok(Math.abs(loss - f.expected.loss) / f.expected.loss <= TOL.loss, `loss ${loss} vs ${f.expected.loss}`);
    assert.equal(grads.size, [...f.ref.keys()].filter((k) => k.startsWith('grad.')).length);
    let worst = 0;
    for (const [name, g] of grads) {
      const want = f.ref.get(`grad.${name}`);
      assert.ok(want, `fixture has no gradient for ${name}`);
      const e = relError(g, want.data);
      worst = Math.max(worst, e);
      assert.ok(e <= TOL.grad, `gradient of ${name}: relative error ${e}`);
    }
    t.diagnostic(`max relative error: logits ${eLogits.toExponential(2)}, loss ${(Math.abs(loss - f.expected.loss) / f.expected.loss).toExponential(2)}, gradients ${worst.toExponential(2)}`);
    trainer.dispose();
    be.dispose();
  });

  test(`gold (${backend.kind}): 10 AdamW steps with clipping and tied weights match PyTorch's losses`, async (t) => {
    const be = await backend.create();
    if (!be) return t.skip(backend.skipReason);
    const f = await fixture();
    const trainer = await LocalTrainer.create(be, withHeadChunk(buildGpt2(f.config), 8 * f.config.vocab_size * 4), f.tensors, f.recipe);
    const losses: number[] = [];
    for (let s = 0; s < f.expected.train.steps; s++) losses.push((await trainer.trainStep(f.b, false)).loss);
    for (let s = 0; s < losses.length; s++) {
      const e = Math.abs(losses[s] - f.expected.train.losses[s]) / Math.abs(f.expected.train.losses[s]);
      assert.ok(e <= TOL.stepLoss, `step ${s}: loss ${losses[s]} vs ${f.expected.train.losses[s]} (relative error ${e})`);
    }
    assert.ok(losses[losses.length - 1] < losses[0], 'the fixture trains: loss decreases');
    t.diagnostic(`max relative loss error over ${losses.length} steps: ${Math.max(...losses.map((l, s) => Math.abs(l - f.expected.train.losses[s]) / Math.abs(f.expected.train.losses[s]))).toExponential(2)}`);
    const params = await trainer.exportParams();
    assert.equal(params.size, [...f.ref.keys()].filter((k) => k.startsWith('final.')).length, 'one final value per parameter');
    let worstFinal = 0;
    for (const [name, p] of params) {
      const want = f.ref.get(`final.${name}`);
      assert.ok(want, `fixture has no final value for ${name}`);
      const e = relError(p.data, want.data);
      worstFinal = Math.max(worstFinal, e);
      assert.ok(e <= TOL.final, `final ${name}: relative error ${e}`);
    }
    t.diagnostic(`max relative error of the final parameters: ${worstFinal.toExponential(2)}`);
    trainer.dispose();
    be.dispose();
  });
}
