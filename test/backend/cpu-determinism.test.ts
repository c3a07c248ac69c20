/**
 * Determinism of the cpu backend: for a fixed thread count every kernel is a pure function of its inputs (run the
 * same kernels twice -> the same bits), and the reductions that the interface pins down (sumSquares) or that are
 * split across channels (biasBackward, layernorm dw/db, embedding scatter) do not depend on the thread count at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { createCpuBackend } from '../../src/backend/cpu.js';
import { JsBackend } from '../../src/backend/js.js';
import { assertBitwise, Rand, runKernel, type Buffers, type HostArray } from './helpers.js';

const B = 2, T = 65, C = 48, NH = 3, hs = 16, V = 301, N = B * T;

/** A forward/backward-like chain touching every kind of kernel; returns every buffer it wrote. */
async function chain(be: Backend): Promise<Record<string, HostArray>> {
  const r = new Rand(42);
  const tokens = r.ints(N, 0, V);
  const inputs: Record<string, HostArray> = {
    tokens, targets: r.ints(N, -1, V), wte: r.uniform(V * C), wpe: r.uniform(T * C), x: new Float32Array(N * C),
    lnw: r.uniform(C), lnb: r.uniform(C), mean: new Float32Array(N), rstd: new Float32Array(N), h: new Float32Array(N * C),
    w: r.uniform(C * 3 * C), qkv: new Float32Array(N * 3 * C), q: new Float32Array(N * C), k: new Float32Array(N * C),
    v: new Float32Array(N * C), att: new Float32Array(B * NH * T * T), logits: new Float32Array(N * V),
    losses: new Float32Array(N), lse: new Float32Array(N), dx: new Float32Array(N * C), dwte: new Float32Array(V * C),
    dwpe: new Float32Array(T * C), dlnw: new Float32Array(C), dlnb: new Float32Array(C), dbias: new Float32Array(3 * C),
    m: new Float32Array(V * C), vv: new Float32Array(V * C), norm: new Float32Array(1),
  };
  const op = (b: Backend, x: Buffers): void => {
    b.embeddingForward(x.x, x.tokens, x.wte, x.wpe, B, T, C);
    b.layernormForward(x.h, x.mean, x.rstd, x.x, x.lnw, x.lnb, N, C);
    b.gemm(false, false, N, 3 * C, C, 1, x.h, C, x.w, 3 * C, 0, x.qkv, 3 * C);
    b.splitHeads(x.q, x.k, x.v, x.qkv, B, T, NH, hs);
    b.gemmBatched(B * NH, false, true, T, T, hs, 1, x.q, hs, T * hs, x.k, hs, T * hs, 0, x.att, T, T * T);
    b.causalSoftmaxForward(x.att, B * NH, T, 0.25);
    b.geluForward(x.h, x.h, N * C);
    b.dropoutForward(x.x, x.h, N * C, 0.1, { seed: 1, purpose: 2, step: 3, layer: 4 });
    b.gemm(false, true, N, V, C, 1, x.x, C, x.wte, C, 0, x.logits, V);
    b.crossEntropyForward(x.losses, x.lse, x.logits, x.targets, N, V);
    b.crossEntropyBackward(x.logits, x.logits, x.lse, x.targets, N, V, 1 / N);
    b.biasBackward(x.dbias, x.qkv, N, 3 * C);
    b.gemm(true, false, V, C, N, 1, x.logits, V, x.x, C, 1, x.dwte, C);
    b.gemm(false, false, N, C, V, 1, x.logits, V, x.wte, C, 0, x.dx, C);
    b.layernormBackward(x.dx, x.dlnw, x.dlnb, x.dx, x.x, x.lnw, x.mean, x.rstd, N, C);
    b.embeddingBackward(x.dwte, x.dwpe, x.dx, x.tokens, B, T, C);
    b.sumSquares(x.norm, 0, x.dwte, V * C);
    b.adamw(x.wte, x.dwte, x.m, x.vv, V * C, { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, t: 1, gradScale: 1 });
  };
  return runKernel(be, inputs, op, Object.keys(inputs));
}

test('cpu (2 threads): the same kernels on the same inputs give bitwise the same outputs', async () => {
  const be = createCpuBackend({ threads: 2 });
  try {
    const first = await chain(be);
    const second = await chain(be);
    for (const name of Object.keys(first)) assertBitwise(name, second[name], first[name]);
  } finally {
    be.dispose();
  }
});

test('cpu: sumSquares is identical for 1 and 2 threads and equal to the js reference (fixed 4096-block float64 sum)', async () => {
  const one = createCpuBackend({ threads: 1 }), two = createCpuBackend({ threads: 2 }), js = new JsBackend();
  try {
    const r = new Rand(7);
    for (const n of [1, 4095, 4096, 4097, 4096 * 9 + 1, 1_000_003]) {
      const x = r.uniform(n, -5, 5);
      const op = (b: Backend, v: Buffers): void => b.sumSquares(v.out, 0, v.x, n);
      const inputs = { x, out: new Float32Array(1) };
      const [a, b, c] = await Promise.all([runKernel(one, inputs, op, ['out']), runKernel(two, inputs, op, ['out']), runKernel(js, inputs, op, ['out'])]);
      assert.ok(Object.is(a.out[0], b.out[0]), `n=${n}: 1 thread ${a.out[0]} vs 2 threads ${b.out[0]}`);
      assert.ok(Object.is(a.out[0], c.out[0]), `n=${n}: cpu ${a.out[0]} vs js ${c.out[0]}`);
    }
  } finally {
    one.dispose();
    two.dispose();
  }
});

test('cpu: cross-row reductions (biasBackward, layernorm dw/db, embedding scatter) do not depend on the thread count', async () => {
  const one = createCpuBackend({ threads: 1 }), two = createCpuBackend({ threads: 2 });
  try {
    // Sizes large enough that 2 threads split the work.
    const r = new Rand(8);
    const rows = 400, cols = 260, Bn = 4, Tn = 100, Cn = 260, Vn = 9;
    const inputs = {
      dout: r.uniform(rows * cols), dbias: r.uniform(cols), x: r.uniform(rows * cols), w: r.uniform(cols),
      mean: r.uniform(rows, -0.1, 0.1), rstd: r.uniform(rows, 0.5, 2), dx: r.uniform(rows * cols), dw: r.uniform(cols),
      db: r.uniform(cols), tokens: r.ints(Bn * Tn, 0, Vn), dwte: r.uniform(Vn * Cn), dwpe: r.uniform(Tn * Cn),
    };
    const op = (b: Backend, v: Buffers): void => {
      b.biasBackward(v.dbias, v.dout, rows, cols);
      b.layernormBackward(v.dx, v.dw, v.db, v.dout, v.x, v.w, v.mean, v.rstd, rows, cols);
      b.embeddingBackward(v.dwte, v.dwpe, v.dout, v.tokens, Bn, Tn, Cn);
    };
    const outs = ['dbias', 'dx', 'dw', 'db', 'dwte', 'dwpe'];
    const [a, b] = [await runKernel(one, inputs, op, outs), await runKernel(two, inputs, op, outs)];
    for (const name of outs) assertBitwise(name, b[name], a[name]);
  } finally {
    one.dispose();
    two.dispose();
  }
});
