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
import { float64Setup, headPasses, lcg, randomInput as randomInputOf, type Setup } from './gradcheck-fixture.js';
import { backwardRange, forwardRange } from '../../src/nn/chain.js';
import { lossTargets, meanLoss } from '../../src/nn/loss.js';
import { LmHead } from '../../src/nn/lm-head.js';
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

for (const name of ['embed', 'h.0', 'ln_f']) {
  test(`gradcheck: layer ${name} (dropout on) matches finite differences`, () => checkLayer(false, name));
}

for (const tie of [false, true]) {
  test(`gradcheck: fused LM head + loss (${tie ? 'tied to wte.weight' : 'untied'}), chunks of 3 rows and an ignored target: dx and dW match finite differences of the mean loss`, () => {
    const s = setup(tie, 0);
    // 3 rows of logits per chunk: B·T = 10 rows run as 3 + 3 + 3 + 1.
    const head = new LmHead(s.model.layers.length - 1, 11, 8, tie, 'wte.weight', 3 * 11 * 4);
    const x = randomInput(s, head, 17);
    const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i === 4 ? -1 : (i * 7 + 3) % 11));
    const h = headPasses(s, head, x, hostTargets);
    const dx = s.be.view(h.train());
    const xv = s.be.view(x);
    const numeric = (arr: Float64Array | Float32Array | Int32Array, i: number) => {
      const old = arr[i];
      arr[i] = old + EPS;
      const fp = h.objective();
      arr[i] = old - EPS;
      const fm = h.objective();
      arr[i] = old;
      return (fp - fm) / (2 * EPS);
    };
    for (const i of sample(xv.length, 16, 5)) assertClose(dx[i], numeric(xv, i), `dx[${i}]`);
    // the ignored row's input gets no gradient
    for (let j = 0; j < 8; j++) assert.equal(dx[4 * 8 + j], 0);
    const w = tie ? 'wte.weight' : 'lm_head.weight';
    const gv = s.be.view(s.grads.get(w)!), pv = s.be.view(s.values.get(w)!);
    for (const i of sample(pv.length, 16, 9)) assertClose(gv[i], numeric(pv, i), `d${w}[${i}]`);
  });
}

test('gradcheck: whole tied GPT-2 with loss — wte gradient sums both uses', async () => {
  const s = setup(true, 0.25);
  const tokens = randomInput(s, s.model.layers[0], 21);
  const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % 11);
  const targets = s.be.alloc(B * T, 'i32');
  await s.be.upload(targets, hostTargets);
  const L = s.model.layers.length;
  const loss = lossTargets(targets, hostTargets);
  const lossNow = async () => {
    const fwd = forwardRange({ ...s.ctx(false), loss }, s.model.layers, 0, L, tokens);
    const r = await meanLoss(s.be, fwd.output, hostTargets);
    s.be.free(fwd.output);
    return r.loss;
  };
  for (const g of s.grads.values()) s.be.fill(g, 0);
  const ctx = { ...s.ctx(true), loss };
  const fwd = forwardRange(ctx, s.model.layers, 0, L, tokens);
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
