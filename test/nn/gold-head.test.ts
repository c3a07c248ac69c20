/**
 * The fused LM head + cross-entropy alone against PyTorch (fixture by scripts/gold/make_head.py: float64 reference,
 * 111 rows, vocabulary 500, three ignored targets) on every available backend: the mean loss, the head weight's
 * gradient and the hidden-state gradient, with the model gold tests' tolerances, for chunks of 1, 7 and all rows —
 * the chunk size changes results only by float rounding — and bitwise the same twice for a fixed chunk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../../src/backend/backend.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { LmHead } from '../../src/nn/lm-head.js';
import { lossTargets, meanLoss } from '../../src/nn/loss.js';
import type { RunContext } from '../../src/nn/layer.js';
import { goldBackends } from './gold-backends.js';
import { relError } from '../backend/helpers.js';

const DIR = join('test', 'fixtures', 'gold', 'head');
/** test/nn/gold.test.ts's tolerances for the loss and the gradients. */
const TOL = { loss: 5e-8, grad: 2e-6 };

interface Expected { N: number; C: number; V: number; loss: number; targets: number[] }

async function fixture() {
  const e = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
  const t = (await readSafetensors(join(DIR, 'head.safetensors'))).tensors;
  const get = (n: string) => t.get(n)!.data as Float32Array;
  return { ...e, targets: Int32Array.from(e.targets), x: get('x'), weight: get('weight'), dx: get('grad.x'), dW: get('grad.weight') };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** One training pass of the head (B = 1, T = N) with `rows` rows per chunk: loss, dW, dx. */
async function runHead(be: Backend, f: Fixture, rows: number) {
  const head = new LmHead(0, f.V, f.C, false, 'wte.weight', rows * f.V * 4);
  const W = be.alloc(f.V * f.C), dW = be.alloc(f.V * f.C), x = be.alloc(f.N * f.C), targets = be.alloc(f.N, 'i32');
  await be.upload(W, f.weight);
  be.fill(dW, 0);
  await be.upload(x, f.x);
  await be.upload(targets, f.targets);
  const params = { value: () => W, grad: () => dW };
  const ctx: RunContext = { be, params, B: 1, T: f.N, training: true, keepForBackward: true, seed: 0, step: 0, saved: new Map(), loss: lossTargets(targets, f.targets) };
  const losses = head.forward(ctx, x);
  const { loss } = await meanLoss(be, losses, f.targets);
  const dx = head.backward(ctx, x, losses);
  const out = { loss, dW: await be.download(dW, new Float32Array(dW.length)), dx: await be.download(dx, new Float32Array(dx.length)) };
  for (const b of [W, dW, x, targets, losses, dx]) be.free(b);
  return out;
}

for (const backend of goldBackends()) {
  test(`gold head (${backend.kind}): fused LM head + loss matches PyTorch for chunks of 1, 7 and all rows; bitwise repeatable`, async (t) => {
    const be = await backend.create();
    if (!be) return t.skip(backend.skipReason);
    const f = await fixture();
    let worst = { loss: 0, dW: 0, dx: 0 };
    for (const rows of [1, 7, f.N]) {
      const r = await runHead(be, f, rows);
      const e = { loss: Math.abs(r.loss - f.loss) / f.loss, dW: relError(r.dW, f.dW), dx: relError(r.dx, f.dx) };
      assert.ok(e.loss <= TOL.loss, `${rows} rows per chunk: loss ${r.loss} vs ${f.loss} (relative error ${e.loss})`);
      assert.ok(e.dW <= TOL.grad, `${rows} rows per chunk: head weight gradient relative error ${e.dW}`);
      assert.ok(e.dx <= TOL.grad, `${rows} rows per chunk: hidden-state gradient relative error ${e.dx}`);
      worst = { loss: Math.max(worst.loss, e.loss), dW: Math.max(worst.dW, e.dW), dx: Math.max(worst.dx, e.dx) };
    }
    const a = await runHead(be, f, 7), b = await runHead(be, f, 7);
    assert.equal(a.loss, b.loss);
    assert.deepEqual(a.dW, b.dW, 'dW bitwise equal for a fixed chunk');
    assert.deepEqual(a.dx, b.dx, 'dx bitwise equal for a fixed chunk');
    t.diagnostic(`max relative error over the chunk sizes: loss ${worst.loss.toExponential(2)}, dW ${worst.dW.toExponential(2)}, dx ${worst.dx.toExponential(2)}`);
    be.dispose();
  });
}
