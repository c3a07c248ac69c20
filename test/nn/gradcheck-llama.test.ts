/**
 * The Llama layers' backward against central finite differences in double precision (js backend, float64 storage):
 * token embedding, a decoder layer (RMSNorm, rotary embedding, grouped-query attention with n_kv_head < n_head,
 * SwiGLU), the final RMSNorm, the head tied and untied — and a whole tied model through the loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceBuffer } from '../../src/backend/backend.js';
import { buildLlama } from '../../src/nn/llama.js';
import { llamaConfig } from '../../src/nn/llama.js';
import type { Layer } from '../../src/nn/layer.js';
import { float64Setup, headPasses, lcg, randomInput as randomInputOf, type Setup } from './gradcheck-fixture.js';
import { backwardRange, forwardRange } from '../../src/nn/chain.js';
import { lossTargets, meanLoss } from '../../src/nn/loss.js';
import { LmHead } from '../../src/nn/lm-head.js';
import { EMBED_TOKENS } from '../../src/nn/token-embedding.js';

const B = 2, T = 5, C = 16, V = 11;
const EPS = 1e-5;
const TOL = 2e-6;

function setup(tie: boolean): Setup {
  // rope_theta 100 turns the rotary angles by whole radians over 5 positions (10000 would barely rotate them).
  return float64Setup(buildLlama(llamaConfig('llama-tiny', { n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: C, intermediate_size: 24, n_ctx: 6, vocab_size: V, rope_theta: 100, tie })), B, T);
}

const randomInput = (s: Setup, layer: Layer, seed: number): DeviceBuffer => randomInputOf(s, layer, seed, B, T, V, C);

function numeric(f: () => number, arr: Float32Array | Float64Array | Int32Array, i: number): number {
  const old = arr[i];
  arr[i] = old + EPS;
  const fp = f();
  arr[i] = old - EPS;
  const fm = f();
  arr[i] = old;
  return (fp - fm) / (2 * EPS);
}

function assertClose(analytic: number, num: number, what: string): void {
  const err = Math.abs(analytic - num) / Math.max(1e-3, Math.abs(analytic) + Math.abs(num));
  assert.ok(err < TOL, `${what}: analytic ${analytic} vs numeric ${num} (relative error ${err.toExponential(2)})`);
}

function sample(n: number, k: number, seed: number): number[] {
  const rnd = lcg(seed);
  if (n <= k) return [...Array(n).keys()];
  return Array.from({ length: k }, () => Math.floor(rnd() * n));
}

/** objective = sum(forward(x) · R); checks dx and every parameter the layer uses at sampled elements. */
function checkLayer(tie: boolean, layerName: string): void {
  const s = setup(tie);
  const layer = s.model.layers.find((l) => l.name === layerName)!;
  assert.ok(layer, `no layer ${layerName}`);
  const x = randomInput(s, layer, 11);
  const outLen = layer.outputLength(B, T);
  const rnd = lcg(13);
  const R = Float64Array.from({ length: outLen }, () => rnd() - 0.5);
  for (const g of s.grads.values()) s.be.fill(g, 0);
  const ctx = s.ctx(true);
  const y = layer.forward(ctx, x);
  const dy = s.be.alloc(outLen);
  s.be.view(dy).set(R);
  const dx = layer.backward(ctx, x, dy);
  s.be.free(y);
  assert.equal(ctx.saved.size, 0, 'backward must release what forward saved');
  const f = () => {
    const out = layer.forward(s.ctx(false), x);
    const v = s.be.view(out);
    let sum = 0;
    for (let i = 0; i < R.length; i++) sum += v[i] * R[i];
    s.be.free(out);
    return sum;
  };
  if (dx) {
    const dxv = s.be.view(dx);
    for (const i of sample(B * T * C, 16, 1)) assertClose(dxv[i], numeric(f, s.be.view(x), i), `${layerName} dx[${i}]`);
  }
  for (const name of layer.uses) {
    const gv = s.be.view(s.grads.get(name)!);
    const pv = s.be.view(s.values.get(name)!);
    for (const i of sample(pv.length, 10, name.length)) assertClose(gv[i], numeric(f, pv, i), `${layerName} d${name}[${i}]`);
  }
}

for (const name of ['embed', 'layers.0', 'norm']) {
  test(`gradcheck (llama): layer ${name} matches finite differences`, () => checkLayer(false, name));
}

for (const tie of [false, true]) {
  test(`gradcheck (llama): fused LM head + loss (${tie ? 'tied to embed_tokens.weight' : 'untied'}), chunks of 4 rows: dx and dW match finite differences`, () => {
    const s = setup(tie);
    // 4 rows of logits per chunk: B·T = 10 rows run as 4 + 4 + 2.
    const head = new LmHead(s.model.layers.length - 1, V, C, tie, EMBED_TOKENS, 4 * V * 4);
    const x = randomInput(s, head, 23);
    const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i * 3 + 1) % V);
    const h = headPasses(s, head, x, hostTargets);
    const dx = s.be.view(h.train());
    for (const i of sample(B * T * C, 16, 1)) assertClose(dx[i], numeric(h.objective, s.be.view(x), i), `dx[${i}]`);
    const w = tie ? EMBED_TOKENS : 'lm_head.weight';
    const gv = s.be.view(s.grads.get(w)!), pv = s.be.view(s.values.get(w)!);
    for (const i of sample(pv.length, 16, 9)) assertClose(gv[i], numeric(h.objective, pv, i), `d${w}[${i}]`);
  });
}

test('gradcheck (llama): whole tied model with loss — the embedding gradient sums both uses', async () => {
  const s = setup(true);
  const tokens = randomInput(s, s.model.layers[0], 21);
  const hostTargets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % V);
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
  for (const name of ['embed_tokens.weight', 'layers.1.self_attn.k_proj.weight', 'layers.0.mlp.gate_proj.weight', 'layers.0.input_layernorm.weight', 'norm.weight']) {
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
