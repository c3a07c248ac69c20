/**
 * The backend conformance suite: every backend listed by conformanceBackends() (test/backend/helpers.ts) against the
 * js oracle, kernel by kernel, on seeded random inputs and odd shapes. Float kernels are compared with a relative
 * tolerance (the max relative error is printed per test and summarised at the end); kernels whose semantics are
 * exact (fill, copy, embedding lookup, head permutations, dropout masks, i32 data) must match bit for bit.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceOutOfMemoryError, type Backend, type RngKey } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js.js';
import {
  assertBitwise, conformanceBackends, errorReport, Rand, recordError, runKernel, vsJs,
  type Buffers,
} from './helpers.js';

const js = new JsBackend();
type Op = (be: Backend, b: Buffers) => void;


function report(t: TestContext, label: string, kernel: string, err: number): void {
  recordError(`${kernel} [${label}]`, err);
  t.diagnostic(`${kernel}: max relative error ${err.toExponential(2)}`);
}

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
    if (c.skip) test(`conformance: ${label}`, { skip: c.skip }, () => {});
    else test(`conformance: ${label} is available on this machine`, () => { throw c.err; });
    continue;
  }
  const be = c.be;
  after(() => be.dispose());

  describe(`conformance: ${label}`, () => {
    test('memory: budget, typed OOM error, high-water mark, free, setBudget', async () => {
      const m = await c.entry.create({ budget: 1000 });
      // The budget counts device bytes: the bytes asked for, or what the backend says they take (webgpu: size classes).
      const dev = (bytes: number) => m.deviceBytes?.of(bytes) ?? bytes;
      const counts = () => { const { budget, inUse, highWater } = m.stats(); return { budget, inUse, highWater }; };
      try {
        const two = 2 * dev(400), budget = two + dev(204) - 1;
        m.setBudget(budget);
        const a = m.alloc(100), b = m.alloc(100, 'i32');
        assert.deepEqual(counts(), { budget, inUse: two, highWater: two });
        const err = (() => { try { m.alloc(51); } catch (e) { return e; } })();
        assert.ok(err instanceof DeviceOutOfMemoryError, 'exceeding the budget throws DeviceOutOfMemoryError');
        assert.equal(err.requested, dev(204));
        assert.equal(err.inUse, two);
        assert.equal(err.budget, budget);
        assert.equal(m.stats().inUse, two, 'a refused allocation changes nothing');
        m.free(a);
        assert.deepEqual(counts(), { budget, inUse: dev(400), highWater: two });
        m.resetHighWater();
        assert.equal(m.stats().highWater, dev(400));
        assert.throws(() => m.setBudget(dev(400) - 1), RangeError);
        m.setBudget(dev(400) + dev(1600));
        const big = m.alloc(400);
        assert.equal(m.stats().highWater, dev(400) + dev(1600));
        assert.throws(() => m.free(a), 'double free is refused');
        m.free(b);
        m.free(big);
        assert.equal(m.stats().inUse, 0);
        assert.equal(m.alloc(0).bytes, 0);
      } finally {
        m.dispose();
      }
    });

    test('transfers: round trip, upload at offset, partial download, i32, SharedArrayBuffer', async () => {
      const r = new Rand(1);
      const host = r.uniform(1001);
      const buf = be.alloc(1001);
      await be.upload(buf, host);
      assertBitwise('f32 round trip', await be.download(buf), host);
      const part = r.uniform(17);
      await be.upload(buf, part, 500);
      const expect = host.slice();
      expect.set(part, 500);
      assertBitwise('upload at offset', await be.download(buf), expect);
      const dst = new Float32Array(20).fill(-7);
      const got = await be.download(buf, dst, 495, 10);
      assert.equal(got, dst, 'download writes into the given array');
      assertBitwise('partial download', dst.subarray(0, 10), expect.subarray(495, 505));
      assertBitwise('rest of dst untouched', dst.subarray(10), new Float32Array(10).fill(-7));
      const shared = new Float32Array(new SharedArrayBuffer(1001 * 4));
      shared.set(r.uniform(1001));
      await be.upload(buf, shared);
      const back = new Float32Array(new SharedArrayBuffer(1001 * 4));
      await be.download(buf, back);
      assertBitwise('SharedArrayBuffer round trip', back, shared);
      be.free(buf);
      const ints = r.ints(333, -(2 ** 31), 2 ** 31 - 1);
      const ib = be.alloc(333, 'i32');
      await be.upload(ib, ints);
      const ig = await be.download(ib);
      assert.ok(ig instanceof Int32Array);
      assertBitwise('i32 round trip', ig, ints);
      be.free(ib);
      await be.sync();
    });

    test('fill and copy are exact (offsets, i32)', async () => {
      const r = new Rand(2);
      for (const n of [1, 17, 65, 100003]) {
        await vsJs(be, `fill n=${n}`, { x: r.uniform(n + 7) }, (b, x) => b.fill(x.x, -1.25, n, 3), ['x'], 'exact');
        await vsJs(be, `fill i32 n=${n}`, { x: r.ints(n, -9, 9) }, (b, x) => b.fill(x.x, 123456789), ['x'], 'exact');
        const op: Op = (b, x) => b.copy(x.dst, x.src, n, 2, 5);
        await vsJs(be, `copy n=${n}`, { dst: r.uniform(n + 2), src: r.uniform(n + 5) }, op, ['dst'], 'exact');
        await vsJs(be, `copy i32 n=${n}`, { dst: r.ints(n + 2, 0, 99), src: r.ints(n + 5, 0, 99) }, op, ['dst'], 'exact');
      }
    });

    test('scale, add (aliased), axpy, sumSquares', async (t) => {
      const r = new Rand(3);
      let err = 0;
      for (const n of [1, 17, 65, 4096, 4097, 100003, 4096 * 37 + 5]) {
        const x = r.uniform(n, -3, 3), y = r.uniform(n, -3, 3);
        err = Math.max(err, await vsJs(be, `scale n=${n}`, { x }, (b, v) => b.scale(v.x, 0.3), ['x'], 1e-6));
        err = Math.max(err, await vsJs(be, `add n=${n}`, { x, y }, (b, v) => b.add(v.x, v.x, v.y, n), ['x'], 1e-6));
        err = Math.max(err, await vsJs(be, `axpy n=${n}`, { x, y }, (b, v) => b.axpy(v.y, v.x, -0.7, n), ['y'], 1e-6));
        const out = new Float32Array(4).fill(5);
        err = Math.max(err, await vsJs(be, `sumSquares n=${n}`, { x, out }, (b, v) => b.sumSquares(v.out, 2, v.x, n), ['out'], 1e-6));
      }
      report(t, label, 'scale/add/axpy/sumSquares', err);
    });

    test('gemm: odd shapes, both transposes, offsets, lda > width, alpha/beta, beta=0 ignores NaN in C', async (t) => {
      const r = new Rand(4);
      let err = 0;
      const shapes = [[1, 1, 1], [3, 17, 65], [17, 65, 3], [65, 3, 17], [130, 257, 65], [257, 130, 33]];
      for (const [M, N, K] of shapes) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            for (const [pad, off, beta] of [[0, 0, 0], [3, 5, 0.5]]) {
              const [ar, ac] = ta ? [K, M] : [M, K], [br, bc] = tb ? [N, K] : [K, N];
              const lda = ac + pad, ldb = bc + pad, ldc = N + pad;
              const A = r.uniform(off + (ar - 1) * lda + ac), B = r.uniform(off + (br - 1) * ldb + bc);
              const C = beta === 0 ? new Float32Array(off + (M - 1) * ldc + N).fill(NaN) : r.uniform(off + (M - 1) * ldc + N);
              const op: Op = (b, x) => b.gemm(ta, tb, M, N, K, 0.75, x.A, lda, x.B, ldb, beta, x.C, ldc, off, off, off);
              err = Math.max(err, await vsJs(be, `gemm ${M}x${N}x${K} ta=${ta} tb=${tb} pad=${pad}`, { A, B, C }, op, ['C'], 5e-4));
            }
          }
        }
      }
      report(t, label, 'gemm', err);
    });

    test('gemmBatched: strides with gaps, both transposes, accumulate', async (t) => {
      const r = new Rand(5);
      let err = 0;
      for (const [batch, M, N, K] of [[1, 3, 17, 5], [3, 17, 3, 65], [7, 33, 65, 17], [32, 64, 64, 16]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const lda = ta ? M : K, ldb = tb ? K : N;
            const sA = M * K + 3, sB = K * N + 1, sC = M * N + 2;
            const beta = ta ? 1 : 0;
            const inputs = { A: r.uniform(batch * sA), B: r.uniform(batch * sB), C: r.uniform(batch * sC) };
            const op: Op = (b, x) => b.gemmBatched(batch, ta, tb, M, N, K, 1.5, x.A, lda, sA, x.B, ldb, sB, beta, x.C, N, sC);
            err = Math.max(err, await vsJs(be, `gemmBatched ${batch}x${M}x${N}x${K} ta=${ta} tb=${tb}`, inputs, op, ['C'], 5e-4));
          }
        }
      }
      report(t, label, 'gemmBatched', err);
    });

    test('addBias and biasBackward', async (t) => {
      const r = new Rand(6);
      let err = 0;
      for (const [rows, cols] of [[1, 1], [3, 17], [65, 3], [257, 130]]) {
        const inputs = { out: r.uniform(rows * cols), bias: r.uniform(cols) };
        err = Math.max(err, await vsJs(be, `addBias ${rows}x${cols}`, inputs, (b, x) => b.addBias(x.out, x.bias, rows, cols), ['out'], 1e-6));
        err = Math.max(err, await vsJs(be, `biasBackward ${rows}x${cols}`, inputs, (b, x) => b.biasBackward(x.bias, x.out, rows, cols), ['bias'], 1e-5));
      }
      report(t, label, 'addBias/biasBackward', err);
    });

    test('embedding: forward exact, backward scatter-add with repeated tokens', async (t) => {
      const r = new Rand(7);
      let err = 0;
      for (const [B, T, C, V] of [[1, 1, 1, 1], [2, 3, 17, 5], [3, 17, 65, 50], [4, 65, 130, 7]]) {
        const inputs = { out: r.uniform(B * T * C), tokens: r.ints(B * T, 0, V), wte: r.uniform(V * C), wpe: r.uniform(T * C) };
        await vsJs(be, `embeddingForward ${B}x${T}x${C}`, inputs, (b, x) => b.embeddingForward(x.out, x.tokens, x.wte, x.wpe, B, T, C), ['out'], 'exact');
        const bwd: Op = (b, x) => b.embeddingBackward(x.wte, x.wpe, x.out, x.tokens, B, T, C);
        err = Math.max(err, await vsJs(be, `embeddingBackward ${B}x${T}x${C}`, inputs, bwd, ['wte', 'wpe'], 1e-5));
        const noPos: Op = (b, x) => b.embeddingBackward(x.wte, null, x.out, x.tokens, B, T, C);
        err = Math.max(err, await vsJs(be, `embeddingBackward(no wpe) ${B}x${T}x${C}`, inputs, noPos, ['wte', 'wpe'], 1e-5));
      }
      report(t, label, 'embeddingBackward', err);
    });

    test('layernorm forward and backward', async (t) => {
      const r = new Rand(8);
      let err = 0;
      for (const [N, C] of [[1, 1], [3, 17], [17, 65], [300, 65], [130, 257]]) {
        const x = r.uniform(N * C, -2, 3), w = r.uniform(C), bias = r.uniform(C);
        const fwd: Op = (b, v) => b.layernormForward(v.out, v.mean, v.rstd, v.x, v.w, v.b, N, C);
        const fin = { out: new Float32Array(N * C), mean: new Float32Array(N), rstd: new Float32Array(N), x, w, b: bias };
        err = Math.max(err, await vsJs(be, `layernormForward ${N}x${C}`, fin, fwd, ['out', 'mean', 'rstd'], 1e-5));
        const stats = await runKernel(js, fin, fwd, ['mean', 'rstd']);
        const bin = { dx: r.uniform(N * C), dw: r.uniform(C), db: r.uniform(C), dout: r.uniform(N * C), x, w, ...stats };
        const bwd: Op = (b, v) => b.layernormBackward(v.dx, v.dw, v.db, v.dout, v.x, v.w, v.mean, v.rstd, N, C);
        err = Math.max(err, await vsJs(be, `layernormBackward ${N}x${C}`, bin, bwd, ['dx', 'dw', 'db'], 1e-4));
      }
      report(t, label, 'layernorm', err);
    });

    test('gelu forward and backward (accumulating)', async (t) => {
      const r = new Rand(9);
      let err = 0;
      for (const n of [1, 17, 65, 100003]) {
        const inputs = { out: new Float32Array(n), x: r.uniform(n, -6, 6), dx: r.uniform(n), dout: r.uniform(n) };
        err = Math.max(err, await vsJs(be, `geluForward n=${n}`, inputs, (b, v) => b.geluForward(v.out, v.x, n), ['out'], 1e-5));
        err = Math.max(err, await vsJs(be, `geluBackward n=${n}`, inputs, (b, v) => b.geluBackward(v.dx, v.x, v.dout, n), ['dx'], 1e-4));
      }
      // The tails, where exp overflows (x <= -12 gave NaN on cpu): the gradient is 0 on the left and 1 on the right.
      const tails = new Float32Array([-1e4, -1000, -100, -20, -12, -11, -10, 10, 12, 20, 100, 1000, 1e4]);
      const tailInputs = { out: new Float32Array(tails.length), x: tails, dx: new Float32Array(tails.length), dout: new Float32Array(tails.length).fill(1) };
      await vsJs(be, 'geluForward tails', tailInputs, (b, v) => b.geluForward(v.out, v.x, tails.length), ['out'], 1e-6);
      await vsJs(be, 'geluBackward tails', tailInputs, (b, v) => b.geluBackward(v.dx, v.x, v.dout, tails.length), ['dx'], 1e-6);
      report(t, label, 'gelu', err);
    });

    test('attention heads: split/merge exact, backward accumulates', async (t) => {
      const r = new Rand(10);
      let err = 0;
      for (const [B, T, NH, hs] of [[1, 1, 1, 1], [2, 3, 3, 5], [3, 17, 4, 16], [8, 130, 4, 16]]) {
        const n = B * T * NH * hs;
        const inputs = { q: r.uniform(n), k: r.uniform(n), v: r.uniform(n), qkv: r.uniform(3 * n), y: r.uniform(n), out: r.uniform(n) };
        await vsJs(be, `splitHeads ${B},${T},${NH},${hs}`, inputs, (b, x) => b.splitHeads(x.q, x.k, x.v, x.qkv, B, T, NH, hs), ['q', 'k', 'v'], 'exact');
        await vsJs(be, `mergeHeads ${B},${T},${NH},${hs}`, inputs, (b, x) => b.mergeHeads(x.out, x.y, B, T, NH, hs), ['out'], 'exact');
        const sb: Op = (b, x) => b.splitHeadsBackward(x.qkv, x.q, x.k, x.v, B, T, NH, hs);
        err = Math.max(err, await vsJs(be, `splitHeadsBackward ${B},${T},${NH},${hs}`, inputs, sb, ['qkv'], 1e-6));
        const mb: Op = (b, x) => b.mergeHeadsBackward(x.y, x.out, B, T, NH, hs);
        err = Math.max(err, await vsJs(be, `mergeHeadsBackward ${B},${T},${NH},${hs}`, inputs, mb, ['y'], 1e-6));
      }
      report(t, label, 'split/mergeHeadsBackward', err);
    });

    test('causal softmax forward and backward', async (t) => {
      const r = new Rand(11);
      let err = 0;
      for (const [rows, T] of [[1, 1], [3, 17], [8, 65], [16, 130]]) {
        const scale = 1 / Math.sqrt(T);
        const att = r.uniform(rows * T * T, -8, 8);
        err = Math.max(err, await vsJs(be, `causalSoftmaxForward ${rows}x${T}`, { att }, (b, x) => b.causalSoftmaxForward(x.att, rows, T, scale), ['att'], 1e-5));
        const probs = (await runKernel(js, { att }, (b, x) => b.causalSoftmaxForward(x.att, rows, T, scale), ['att'])).att;
        const bwd: Op = (b, x) => b.causalSoftmaxBackward(x.datt, x.att, rows, T, scale);
        err = Math.max(err, await vsJs(be, `causalSoftmaxBackward ${rows}x${T}`, { datt: r.uniform(rows * T * T), att: probs }, bwd, ['datt'], 1e-5));
      }
      report(t, label, 'causalSoftmax', err);
    });

    test('dropout: masks and values bit-identical to js (counter-based RNG)', async () => {
      const r = new Rand(12);
      for (const n of [1, 17, 1000, 100003]) {
        for (const p of [0, 0.1, 0.5, 0.9]) {
          const key: RngKey = { seed: 1234 + n, purpose: 7, step: 3, layer: Math.round(p * 10) };
          const inputs = { out: r.uniform(n), x: r.uniform(n, 0.5, 2), dx: r.uniform(n), dout: r.uniform(n) };
          await vsJs(be, `dropoutForward n=${n} p=${p}`, inputs, (b, v) => b.dropoutForward(v.out, v.x, n, p, key), ['out'], 'exact');
          await vsJs(be, `dropoutBackward n=${n} p=${p}`, inputs, (b, v) => b.dropoutBackward(v.dx, v.dout, n, p, key), ['dx'], 'exact');
        }
      }
    });

    test('cross-entropy forward and backward (ignored rows, dlogits aliasing logits, V = 50257)', async (t) => {
      const r = new Rand(13);
      let err = 0;
      for (const [N, V] of [[1, 1], [3, 17], [17, 65], [5, 50257]]) {
        const targets = r.ints(N, -1, V);
        targets[0] = Math.min(V - 1, 0);
        const logits = r.uniform(N * V, -6, 6);
        const fin = { losses: new Float32Array(N), lse: new Float32Array(N), logits, targets };
        const fwd: Op = (b, x) => b.crossEntropyForward(x.losses, x.lse, x.logits, x.targets, N, V);
        err = Math.max(err, await vsJs(be, `crossEntropyForward ${N}x${V}`, fin, fwd, ['losses', 'lse'], 1e-5));
        const { lse } = await runKernel(js, fin, fwd, ['lse']);
        const bwd: Op = (b, x) => b.crossEntropyBackward(x.logits, x.logits, x.lse, x.targets, N, V, 1 / 3);
        err = Math.max(err, await vsJs(be, `crossEntropyBackward ${N}x${V}`, { logits, lse, targets }, bwd, ['logits'], 1e-5));
      }
      report(t, label, 'crossEntropy', err);
    });

    test('optimizers: adamw, sgd (plain, momentum, nesterov)', async (t) => {
      const r = new Rand(14);
      let err = 0;
      for (const n of [1, 17, 100003]) {
        const inputs = { p: r.uniform(n), g: r.uniform(n), m: r.uniform(n, -0.1, 0.1), v: r.uniform(n, 0, 0.01) };
        const h = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, t: 7, gradScale: 0.5 };
        err = Math.max(err, await vsJs(be, `adamw n=${n}`, inputs, (b, x) => b.adamw(x.p, x.g, x.m, x.v, n, h), ['p', 'm', 'v'], 1e-6));
        for (const [momentum, nesterov] of [[0, false], [0.9, false], [0.9, true]] as const) {
          const s = { lr: 0.1, momentum, weightDecay: 0.01, nesterov, gradScale: 2 };
          const op: Op = (b, x) => b.sgd(x.p, x.g, momentum ? x.m : null, n, s);
          err = Math.max(err, await vsJs(be, `sgd n=${n} momentum=${momentum} nesterov=${nesterov}`, inputs, op, ['p', 'm'], 1e-6));
        }
      }
      report(t, label, 'adamw/sgd', err);
    });

    test('optimizers on host arrays (adamwHost, sgdHost): bit for bit the device kernels, on SharedArrayBuffer views too', async (t) => {
      if (!be.adamwHost || !be.sgdHost) {
        // Only a device with memory of its own (a GPU) streams the optimizer through device memory.
        assert.equal(be.kind, 'webgpu', `${label} should step the host tier in place`);
        return t.skip(`${label} has no host-array optimizer: it streams parameters and moments through device memory`);
      }
      const r = new Rand(15);
      const shared = (a: Float32Array) => {
        const out = new Float32Array(new SharedArrayBuffer(a.byteLength));
        out.set(a);
        return out;
      };
      for (const n of [1, 17, 100003]) {
        const inputs = { p: r.uniform(n), g: r.uniform(n), m: r.uniform(n, -0.1, 0.1), v: r.uniform(n, 0, 0.01) };
        const h = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, t: 7, gradScale: 0.5 };
        const onDevice = await runKernel(be, inputs, (b, x) => b.adamw(x.p, x.g, x.m, x.v, n, h), ['p', 'm', 'v']);
        const [p, g, m, v] = [inputs.p, inputs.g, inputs.m, inputs.v].map(shared);
        be.adamwHost(p, g, m, v, n, h);
        assertBitwise(`adamwHost n=${n} p`, p, onDevice.p);
        assertBitwise(`adamwHost n=${n} m`, m, onDevice.m);
        assertBitwise(`adamwHost n=${n} v`, v, onDevice.v);
        for (const [momentum, nesterov] of [[0, false], [0.9, true]] as const) {
          const s = { lr: 0.1, momentum, weightDecay: 0.01, nesterov, gradScale: 2 };
          const dev = await runKernel(be, inputs, (b, x) => b.sgd(x.p, x.g, momentum ? x.m : null, n, s), ['p', 'm']);
          const [hp, hg, hm] = [inputs.p, inputs.g, inputs.m].map(shared);
          be.sgdHost(hp, hg, momentum ? hm : null, n, s);
          assertBitwise(`sgdHost n=${n} momentum=${momentum} p`, hp, dev.p);
          assertBitwise(`sgdHost n=${n} momentum=${momentum} m`, hm, dev.m);
        }
      }
      assert.throws(() => be.adamwHost!(new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(1), 2, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0, t: 1, gradScale: 1 }), /v needs 2 elements but has 1/);
    });
  });
}

after(() => {
  if (errorReport.size === 0) return;
  const lines = [...errorReport].map(([k, v]) => `  ${k.padEnd(48)} ${v.toExponential(2)}`);
  console.log(`conformance: max relative error vs js (|a-e| / max(|e|, 1e-3·max|e|))\n${lines.join('\n')}`);
});
