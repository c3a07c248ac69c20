/**
 * Conformance of the Llama kernels (RMSNorm, rotary table and embedding, SwiGLU, token-only embedding) on every
 * backend of conformanceBackends() against the js oracle, on seeded random inputs and odd shapes — the same harness
 * and tolerance measure as conformance.test.ts.
 */
import { after, describe, test } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js.js';
import { conformanceBackends, Rand, runKernel, vsJs, type Buffers } from './helpers.js';

const js = new JsBackend();
type Op = (be: Backend, b: Buffers) => void;

const created = await Promise.all(
  conformanceBackends().map(async (entry) => {
    try {
      return { entry, be: await entry.create() };
    } catch (err) {
      return { entry, err, skip: await entry.skipReason(err) };
    }
  }),
);

for (const c of created) {
  const label = c.entry.label;
  if (!c.be) {
    if (c.skip) test(`conformance (llama): ${label}`, { skip: c.skip }, () => {});
    else test(`conformance (llama): ${label} is available on this machine`, () => { throw c.err; });
    continue;
  }
  const be = c.be;
  after(() => be.dispose());

  describe(`conformance (llama): ${label}`, () => {
    test('token embedding without a position table is exact', async () => {
      const r = new Rand(21);
      for (const [B, T, C, V] of [[1, 1, 1, 1], [2, 3, 17, 5], [3, 17, 65, 50]]) {
        const inputs = { out: r.uniform(B * T * C), tokens: r.ints(B * T, 0, V), wte: r.uniform(V * C) };
        await vsJs(be, `embeddingForward(no wpe) ${B}x${T}x${C}`, inputs, (b, x) => b.embeddingForward(x.out, x.tokens, x.wte, null, B, T, C), ['out'], 'exact');
      }
    });

    test('rmsnorm forward and backward (accumulating)', async (t) => {
      const r = new Rand(22);
      let err = 0;
      for (const [N, C, eps] of [[1, 1, 1e-5], [3, 17, 1e-6], [17, 65, 1e-5], [300, 65, 1e-5], [130, 257, 1e-6]]) {
        const x = r.uniform(N * C, -2, 3), w = r.uniform(C, 0.5, 1.5);
        const fwd: Op = (b, v) => b.rmsnormForward(v.out, v.rstd, v.x, v.w, N, C, eps);
        const fin = { out: new Float32Array(N * C), rstd: new Float32Array(N), x, w };
        err = Math.max(err, await vsJs(be, `rmsnormForward ${N}x${C}`, fin, fwd, ['out', 'rstd'], 1e-5));
        const { rstd } = await runKernel(js, fin, fwd, ['rstd']);
        const bin = { dx: r.uniform(N * C), dw: r.uniform(C), dout: r.uniform(N * C), x, w, rstd };
        const bwd: Op = (b, v) => b.rmsnormBackward(v.dx, v.dw, v.dout, v.x, v.w, v.rstd, N, C);
        err = Math.max(err, await vsJs(be, `rmsnormBackward ${N}x${C}`, bin, bwd, ['dx', 'dw'], 1e-4));
      }
      t.diagnostic(`rmsnorm: max relative error ${err.toExponential(2)}`);
    });

    test('rotary table (HF float32 recipe), including large angles', async (t) => {
      let err = 0;
      for (const [T, hs, theta] of [[1, 2, 10000], [17, 16, 10000], [130, 64, 500000], [2048, 8, 100000]]) {
        const op: Op = (b, v) => b.ropeTable(v.cs, T, hs, theta);
        err = Math.max(err, await vsJs(be, `ropeTable T=${T} hs=${hs} theta=${theta}`, { cs: new Float32Array(T * hs + 3) }, op, ['cs'], 1e-6));
      }
      t.diagnostic(`ropeTable: max relative error ${err.toExponential(2)}`);
    });

    test('rotary embedding with the head split: forward, backward accumulates', async (t) => {
      const r = new Rand(23);
      let err = 0;
      for (const [B, T, NH, hs] of [[1, 1, 1, 2], [2, 3, 3, 4], [3, 17, 4, 16], [2, 65, 3, 64]]) {
        const n = B * T * NH * hs;
        const { cs } = await runKernel(js, { cs: new Float32Array(T * hs) }, (b, v) => b.ropeTable(v.cs, T, hs, 10000), ['cs']);
        const inputs = { out: r.uniform(n), x: r.uniform(n, -3, 3), cs, dx: r.uniform(n), dout: r.uniform(n) };
        err = Math.max(err, await vsJs(be, `ropeForward ${B},${T},${NH},${hs}`, inputs, (b, v) => b.ropeForward(v.out, v.x, v.cs, B, T, NH, hs), ['out'], 1e-6));
        err = Math.max(err, await vsJs(be, `ropeBackward ${B},${T},${NH},${hs}`, inputs, (b, v) => b.ropeBackward(v.dx, v.dout, v.cs, B, T, NH, hs), ['dx'], 1e-6));
      }
      t.diagnostic(`rope: max relative error ${err.toExponential(2)}`);
    });

    test('swiglu forward and backward (accumulating), both tails', async (t) => {
      const r = new Rand(24);
      let err = 0;
      for (const n of [1, 17, 65, 100003]) {
        const gate = r.uniform(n, -12, 12);
        gate[0] = n > 1 ? -120 : gate[0];
        if (n > 2) gate[1] = 120;
        const inputs = { out: new Float32Array(n), gate, up: r.uniform(n, -2, 2), dgate: r.uniform(n), dup: r.uniform(n), dout: r.uniform(n) };
        err = Math.max(err, await vsJs(be, `swigluForward n=${n}`, inputs, (b, v) => b.swigluForward(v.out, v.gate, v.up, n), ['out'], 1e-5));
        const bwd: Op = (b, v) => b.swigluBackward(v.dgate, v.dup, v.gate, v.up, v.dout, n);
        err = Math.max(err, await vsJs(be, `swigluBackward n=${n}`, inputs, bwd, ['dgate', 'dup'], 1e-4));
      }
      t.diagnostic(`swiglu: max relative error ${err.toExponential(2)}`);
    });
  });
}
