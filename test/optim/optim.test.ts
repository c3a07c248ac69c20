import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { applyUpdate, stateNames, validateOptimizer, type OptimizerConfig } from '../../src/optim/optimizer.js';
import { clipScale, globalNorm } from '../../src/optim/clip.js';
import { lrAt, validateSchedule } from '../../src/optim/schedule.js';

async function step(cfg: OptimizerConfig, p0: number[], grads: number[][], decay = true, gradScale = 1): Promise<number[]> {
  const be = new JsBackend({ float64: true });
  const n = p0.length;
  const p = be.alloc(n), g = be.alloc(n);
  await be.upload(p, Float32Array.from(p0));
  const state = stateNames(cfg).map(() => {
    const s = be.alloc(n);
    be.fill(s, 0);
    return s;
  });
  for (const [t, gr] of grads.entries()) {
    be.view(g).set(gr);
    applyUpdate(be, cfg, p, g, state, n, { lr: cfg.lr, t: t + 1, gradScale, decay });
  }
  return [...(await be.download(p))];
}

test('AdamW: two steps match the closed form (decoupled weight decay, bias correction)', async () => {
  const cfg: OptimizerConfig = { kind: 'adamw', lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 };
  const got = await step(cfg, [1, -2], [[0.5, -1], [0.25, 2]]);
  // gradients are given per step for both elements: [[g0_step1, g1_step1], [g0_step2, g1_step2]]
  const expect = [0, 1].map((i) => {
    let p = [1, -2][i], m = 0, v = 0;
    const gs = [[0.5, -1], [0.25, 2]].map((row) => row[i]);
    gs.forEach((g, k) => {
      const t = k + 1;
      m = 0.9 * m + 0.1 * g;
      v = 0.99 * v + 0.01 * g * g;
      p -= 0.1 * (m / (1 - 0.9 ** t) / (Math.sqrt(v / (1 - 0.99 ** t)) + 1e-8) + 0.5 * p);
    });
    return p;
  });
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(got[i] - expect[i]) < 1e-12, `element ${i}: ${got[i]} vs ${expect[i]}`);
});

test('AdamW: no weight decay on parameters marked decay=false; gradScale multiplies the gradient', async () => {
  const cfg: OptimizerConfig = { kind: 'adamw', lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 };
  const noDecay = await step(cfg, [1], [[0]], false);
  assert.equal(noDecay[0], 1);
  const scaled = await step(cfg, [0], [[4]], false, 0.25);
  const unscaled = await step(cfg, [0], [[1]], false, 1);
  assert.equal(scaled[0], unscaled[0]);
});

test('SGD: momentum and Nesterov follow torch.optim.SGD', async () => {
  const base = { kind: 'sgd' as const, lr: 0.1, momentum: 0.9, weightDecay: 0 };
  const plain = await step({ ...base, nesterov: false }, [1], [[1], [1]]);
  // buf1 = 1, p = 1 - 0.1 = 0.9; buf2 = 0.9 + 1 = 1.9, p = 0.9 - 0.19 = 0.71
  assert.ok(Math.abs(plain[0] - 0.71) < 1e-12);
  const nest = await step({ ...base, nesterov: true }, [1], [[1], [1]]);
  // d1 = 1 + 0.9*1 = 1.9 → p = 0.81; buf2 = 1.9, d2 = 1 + 0.9*1.9 = 2.71 → p = 0.81 - 0.271 = 0.539
  assert.ok(Math.abs(nest[0] - 0.539) < 1e-12);
});

test('clipping: global norm sums squared norms; scale = min(1, max/(norm+1e-6))', () => {
  assert.equal(globalNorm([9, 16]), 5);
  assert.equal(clipScale(5, 10), 1);
  assert.equal(clipScale(5, 1), 1 / (5 + 1e-6));
  assert.equal(clipScale(5, 0), 1);
});

test('schedule: warmup then linear and cosine decay to the floor', () => {
  const s = { warmupSteps: 2, decay: 'linear' as const, minRatio: 0.1 };
  assert.equal(lrAt(1, s, 0, 12), 0.5);
  assert.equal(lrAt(1, s, 1, 12), 1);
  assert.equal(lrAt(1, s, 2, 12), 1);
  assert.ok(Math.abs(lrAt(1, s, 12, 12) - 0.1) < 1e-12);
  const c = { ...s, decay: 'cosine' as const };
  assert.ok(Math.abs(lrAt(1, c, 7, 12) - 0.55) < 1e-12);
  assert.equal(lrAt(1, { warmupSteps: 0, decay: 'constant', minRatio: 0 }, 5, 12), 1);
});

test('optimizer and schedule validation name the field and the accepted values', () => {
  assert.throws(() => validateOptimizer({ kind: 'adamw', lr: -1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /optimizer\.lr must be a finite number >= 0, got -1/);
  assert.throws(() => validateOptimizer({ kind: 'adamw', lr: 1, beta1: 1.2, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /optimizer\.beta1 must be in \[0, 1\), got 1.2/);
  assert.throws(() => validateOptimizer({ kind: 'rmsprop' } as never), /optimizer\.kind must be 'adamw' or 'sgd'/);
  assert.throws(() => validateSchedule({ warmupSteps: 0, decay: 'step' as never, minRatio: 0 }), /schedule\.decay must be constant, linear or cosine, got 'step'/);
});
