/**
 * The finite-difference checks, one suite for every family, in double precision (js backend with float64 storage):
 * each layer kind alone (gradCheckLayer, the helper users get for their own layers), the fused LM head + loss tied
 * and untied, run in chunks with an ignored target, and a whole tied model through the loss (the embedding's gradient
 * sums both uses). With dropout on where the family has it: the counter-based masks are a pure function of (seed,
 * step, layer), so the objective is a smooth function of inputs and parameters and finite differences are exact up to
 * O(eps²).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backwardRange, forwardRange } from '../../src/nn/chain.js';
import { gradCheckLayer } from '../../src/nn/gradcheck.js';
import { LmHead } from '../../src/nn/lm-head.js';
import { lossTargets, meanLoss } from '../../src/nn/loss.js';
import type { Model } from '../../src/nn/model.js';
import { float64Setup, headPasses, lcg, randomInput, type Setup } from './gradcheck-fixture.js';

export interface GradcheckFamily {
  /** Test-name prefix, e.g. 'gradcheck (llama)'. */
  name: string;
  /** The family's small model: C wide, V tokens, at least 2 blocks; `dropout` where the family has it. */
  build(tie: boolean, dropout: number): Model;
  /** Dropout of the layer and whole-model checks (0 for a family without dropout). */
  dropout: number;
  C: number;
  V: number;
  /** One layer of each kind. */
  layers: string[];
  /** The head's weight when tied. */
  tiedWeight: string;
  /** Rows of logits per head chunk: B·T = 10 rows must end in a partial chunk. */
  headChunkRows: number;
  /** Parameters whose gradients the whole-model check samples. */
  wholeModel: string[];
}

const B = 2, T = 5;
const EPS = 1e-5;
const TOL = 2e-6;

function assertClose(analytic: number, num: number, what: string): void {
  const err = Math.abs(analytic - num) / Math.max(1e-3, Math.abs(analytic) + Math.abs(num));
  assert.ok(err < TOL, `${what}: analytic ${analytic} vs numeric ${num} (relative error ${err.toExponential(2)})`);
}

function sample(n: number, k: number, seed: number): number[] {
  const rnd = lcg(seed);
  if (n <= k) return [...Array(n).keys()];
  return Array.from({ length: k }, () => Math.floor(rnd() * n));
}

/** Central difference of `f` in element i of `arr` (restored after). */
async function numeric(f: () => number | Promise<number>, arr: Float32Array | Float64Array | Int32Array, i: number): Promise<number> {
  const old = arr[i];
  arr[i] = old + EPS;
  const fp = await f();
  arr[i] = old - EPS;
  const fm = await f();
  arr[i] = old;
  return (fp - fm) / (2 * EPS);
}

export function gradcheckSuite(f: GradcheckFamily): void {
  const setup = (tie: boolean, dropout: number): Setup => float64Setup(f.build(tie, dropout), B, T);

  for (const name of f.layers) {
    test(`${f.name}: layer ${name}${f.dropout > 0 ? ' (dropout on)' : ''} matches finite differences`, () => {
      const model = f.build(false, f.dropout);
      const layer = model.layers.find((l) => l.name === name);
      assert.ok(layer, `no layer ${name}`);
      const r = gradCheckLayer(layer, { params: model.params, B, T, inputLength: B * T * f.C, vocab: f.V, eps: EPS, tol: TOL, samples: 16 });
      assert.deepEqual(r.failures, []);
      assert.ok(r.checked >= 16, `${r.checked} elements checked`);
    });
  }

  for (const tie of [false, true]) {
    const w = tie ? f.tiedWeight : 'lm_head.weight';
    test(`${f.name}: fused LM head + loss (${tie ? `tied to ${w}` : 'untied'}), chunks of ${f.headChunkRows} rows and an ignored target: dx and dW match finite differences of the mean loss`, async () => {
      const s = setup(tie, 0);
      const head = new LmHead(s.model.layers.length - 1, f.V, f.C, tie, f.tiedWeight, f.headChunkRows * f.V * 4);
      assert.ok((B * T) % f.headChunkRows !== 0, 'the last chunk is partial');
      const x = randomInput(s, head, 17, B, T, f.V, f.C);
      const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i === 4 ? -1 : (i * 7 + 3) % f.V));
      const h = headPasses(s, head, x, hostTargets);
      const dx = s.be.view(h.train());
      const xv = s.be.view(x);
      for (const i of sample(xv.length, 16, 5)) assertClose(dx[i], await numeric(h.objective, xv, i), `dx[${i}]`);
      // the ignored row's input gets no gradient
      for (let j = 0; j < f.C; j++) assert.equal(dx[4 * f.C + j], 0);
      const gv = s.be.view(s.grads.get(w)!), pv = s.be.view(s.values.get(w)!);
      for (const i of sample(pv.length, 16, 9)) assertClose(gv[i], await numeric(h.objective, pv, i), `d${w}[${i}]`);
    });
  }

  test(`${f.name}: whole tied model with loss — the embedding gradient sums both uses`, async () => {
    const s = setup(true, f.dropout);
    const tokens = randomInput(s, s.model.layers[0], 21, B, T, f.V, f.C);
    const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % f.V);
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
    assert.ok(f.wholeModel.includes(f.tiedWeight), 'the tied weight is among those checked');
    for (const name of f.wholeModel) {
      const gv = s.be.view(s.grads.get(name)!);
      const pv = s.be.view(s.values.get(name)!);
      for (const i of sample(pv.length, 6, 99)) assertClose(gv[i], await numeric(lossNow, pv, i), `model d${name}[${i}]`);
    }
  });
}
