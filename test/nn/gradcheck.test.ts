/**
 * Every layer's backward against central finite differences, in double precision (js backend with float64 storage),
 * with dropout ON: the counter-based masks are a pure function of (seed, step, layer), so the objective is a smooth
 * function of inputs and parameters and finite differences are exact up to O(eps^2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import type { DeviceBuffer } from '../../src/backend/backend.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import type { Layer } from '../../src/nn/layer.js';
import { float64Setup, lcg, randomInput as randomInputOf, type Setup } from './gradcheck-fixture.js';
import { backwardRange, forwardRange } from '../../src/nn/chain.js';
import { crossEntropyLoss, crossEntropyLossAndGrad } from '../../src/nn/loss.js';
import { gradCheckLayer } from '../../src/nn/gradcheck.js';

const B = 2, T = 5;
const EPS = 1e-5;
const TOL = 2e-6;

function setup(tie: boolean, dropout: number): Setup {
  return float64Setup(buildGpt2({ n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 6, vocab_size: 11, dropout, tie }), B, T);
}

const randomInput = (s: Setup, layer: Layer, seed: number): DeviceBuffer => randomInputOf(s, layer, seed, B, T, 11, 8);

function assertClose(analytic: number, num: number, what: string): void {
  const err = Math.abs(analytic - num) / Math.max(1e-3, Math.abs(analytic) + Math.abs(num));
  assert.ok(err < TOL, `${what}: analytic ${analytic} vs numeric ${num} (relative error ${err.toExponential(2)})`);
}

function sample(n: number, k: number, seed: number): number[] {
  const rnd = lcg(seed);
  if (n <= k) return [...Array(n).keys()];
  return Array.from({ length: k }, () => Math.floor(rnd() * n));
}

function checkLayer(tie: boolean, layerName: string): void {
  const { model } = setup(tie, 0.25);
  const layer = model.layers.find((l) => l.name === layerName)!;
  const r = gradCheckLayer(layer, { params: model.params, B, T, inputLength: B * T * 8, vocab: 11, eps: EPS, tol: TOL, samples: 12 });
  assert.deepEqual(r.failures, []);
  assert.ok(r.checked >= 12, `${r.checked} elements checked`);
}

for (const name of ['embed', 'h.0', 'ln_f', 'lm_head']) {
  test(`gradcheck: layer ${name} (dropout on) matches finite differences`, () => checkLayer(false, name));
}
test('gradcheck: tied lm_head accumulates into wte.weight and matches finite differences', () => checkLayer(true, 'lm_head'));

test('gradcheck: fused softmax cross-entropy, with an ignored target', async () => {
  const be = new JsBackend({ float64: true });
  const N = 4, V = 7;
  const rnd = lcg(3);
  const logits = be.alloc(N * V);
  const lv = be.view(logits);
  for (let i = 0; i < N * V; i++) lv[i] = (rnd() - 0.5) * 4;
  const hostTargets = Int32Array.from([3, -1, 0, 6]);
  const targets = be.alloc(N, 'i32');
  await be.upload(targets, hostTargets);
  const base = Float64Array.from(lv);
  const work = be.alloc(N * V);
  const wv = be.view(work);
  const lossOf = async (vals: Float64Array) => {
    wv.set(vals);
    return (await crossEntropyLoss(be, work, targets, hostTargets, V)).loss;
  };
  wv.set(base);
  const { loss, count } = await crossEntropyLossAndGrad(be, work, targets, hostTargets, V);
  assert.equal(count, 3);
  assert.ok(Number.isFinite(loss));
  const grad = Float64Array.from(wv);
  for (let i = 0; i < N * V; i++) {
    const p = Float64Array.from(base), m = Float64Array.from(base);
    p[i] += EPS;
    m[i] -= EPS;
    const num = ((await lossOf(p)) - (await lossOf(m))) / (2 * EPS);
    assertClose(grad[i], num, `dlogits[${i}]`);
  }
  // the ignored row has zero gradient
  for (let j = 0; j < V; j++) assert.equal(grad[V + j], 0);
});

test('gradcheck: whole tied GPT-2 with loss — wte gradient sums both uses', async () => {
  const s = setup(true, 0.25);
  const tokens = randomInput(s, s.model.layers[0], 21);
  const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % 11);
  const targets = s.be.alloc(B * T, 'i32');
  await s.be.upload(targets, hostTargets);
  const L = s.model.layers.length;
  const lossNow = async () => {
    const fwd = forwardRange(s.ctx(false), s.model.layers, 0, L, tokens);
    const r = await crossEntropyLoss(s.be, fwd.output, targets, hostTargets, 11);
    s.be.free(fwd.output);
    return r.loss;
  };
  for (const g of s.grads.values()) s.be.fill(g, 0);
  const ctx = s.ctx(true);
  const fwd = forwardRange(ctx, s.model.layers, 0, L, tokens);
  await crossEntropyLossAndGrad(s.be, fwd.output, targets, hostTargets, 11);
  backwardRange(ctx, s.model.layers, 0, L, fwd, fwd.output);
  for (const name of ['wte.weight', 'wpe.weight', 'h.1.attn.c_attn.weight', 'h.0.mlp.c_fc.bias', 'ln_f.weight']) {
    const gv = s.be.view(s.grads.get(name)!);
    const pv = s.be.view(s.values.get(name)!);
    for (const i of sample(pv.length, 6, 99)) {
      const old = pv[i];
      pv[i] = old + EPS;
      const fp = await lossNow();
      pv[i] = old - EPS;
      const fm = await lossNow();
      pv[i] = old;
      assertClose(gv[i], (fp - fm) / (2 * EPS), `model d${name}[${i}]`);
    }
  }
});
