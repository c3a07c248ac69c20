/**
 * webgpu-only behaviour the shared conformance suite does not reach (its shapes are small): split-K gemm (few output
 * tiles, long K — the LM head's input gradient), the split paths for tensors larger than one storage binding
 * (exercised cheaply by lowering the binding limit to 64 KiB), a clear error instead of a Dawn validation error when
 * even one row cannot be bound, and the adapter name in the backend's name. Compared with js at ≤ 1e-4 relative
 * (float32 with a different summation order), exact kernels bit for bit.
 *
 * Skipped only when webgpu genuinely cannot run here (test/backend/helpers.ts webgpuSkipReason).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js.js';
import { Rand, runKernel, vsJs, webgpuSkipReason, type Buffers } from './helpers.js';

const js = new JsBackend();
type Op = (be: Backend, b: Buffers) => void;


async function open(opts: { budget?: number; maxBindingBytes?: number } = {}): Promise<Backend | string> {
  try {
    const { createWebGpuBackend } = await import('../../src/backend/webgpu.js');
    return await createWebGpuBackend(opts);
  } catch (e) {
    const reason = await webgpuSkipReason(e);
    if (reason === null) throw e;
    return reason;
  }
}

const full = await open();
const small = typeof full === 'string' ? full : await open({ maxBindingBytes: 64 * 1024 });

if (typeof full === 'string' || typeof small === 'string') {
  test('webgpu backend', { skip: typeof full === 'string' ? full : String(small) }, () => {});
} else {
  after(() => {
    full.dispose();
    small.dispose();
  });

  describe(`webgpu specifics on ${full.name}`, () => {
    test('the backend is named after its adapter and Dawn backend', () => {
      assert.match(full.name, /^webgpu\([^,]+, (native|vulkan|metal|d3d12|d3d11|opengles|opengl)\)$/);
      assert.equal(full.kind, 'webgpu');
    });

    test('split-K gemm (few output tiles, long K as in the LM head): both transposes, beta, batch, offsets within 1e-4 of js', async (t) => {
      const r = new Rand(21);
      let err = 0;
      for (const [batch, M, N, K] of [[1, 16, 16, 20011], [1, 64, 70, 4099], [3, 17, 5, 2048]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const beta = ta ? 0.5 : 0;
            const lda = ta ? M : K, ldb = tb ? K : N, off = 3;
            const sA = M * K + 1, sB = K * N + 2, sC = M * N + 3;
            const C = beta === 0 ? new Float32Array(off + batch * sC).fill(NaN) : r.uniform(off + batch * sC);
            const inputs = { A: r.uniform(off + batch * sA), B: r.uniform(off + batch * sB), C };
            const op: Op = (b, x) => {
              if (batch === 1) b.gemm(ta, tb, M, N, K, 0.75, x.A, lda, x.B, ldb, beta, x.C, N, off, off, off);
              else b.gemmBatched(batch, ta, tb, M, N, K, 0.75, x.A, lda, sA, x.B, ldb, sB, beta, x.C, N, sC);
            };
            err = Math.max(err, await vsJs(full, `gemm ${batch}x${M}x${N}x${K} ta=${ta} tb=${tb}`, inputs, op, ['C'], 1e-4));
          }
        }
      }
      t.diagnostic(`split-K gemm: max relative error ${err.toExponential(2)}`);
    });

    test('tensors larger than one storage binding (limit lowered to 64 KiB): gemm, cross-entropy, layernorm, embedding, optimizers, reductions', async (t) => {
      const r = new Rand(22);
      let err = 0;
      // gemm whose A, B and C each exceed the binding: split along M, N and K.
      for (const [M, N, K] of [[200, 150, 120], [40, 300, 700]]) {
        for (const ta of [false, true]) {
          const inputs = { A: r.uniform(M * K), B: r.uniform(K * N), C: r.uniform(M * N) };
          const op: Op = (b, x) => b.gemm(ta, true, M, N, K, 1.25, x.A, ta ? M : K, x.B, K, 0.5, x.C, N);
          err = Math.max(err, await vsJs(small, `gemm ${M}x${N}x${K} ta=${ta} (split)`, inputs, op, ['C'], 1e-4));
        }
      }
      const N = 7, V = 5000; // 7 × 5000 × 4 bytes = 137 KiB of logits
      const targets = r.ints(N, -1, V);
      const logits = r.uniform(N * V, -6, 6);
      const ceIn = { losses: new Float32Array(N), lse: new Float32Array(N), logits, targets };
      const fwd: Op = (b, x) => b.crossEntropyForward(x.losses, x.lse, x.logits, x.targets, N, V);
      err = Math.max(err, await vsJs(small, 'crossEntropyForward (split)', ceIn, fwd, ['losses', 'lse'], 1e-5));
      const { lse } = await runKernel(js, ceIn, fwd, ['lse']);
      const bwd: Op = (b, x) => b.crossEntropyBackward(x.logits, x.logits, x.lse, x.targets, N, V, 0.25);
      err = Math.max(err, await vsJs(small, 'crossEntropyBackward (split)', { logits, lse, targets }, bwd, ['logits'], 1e-5));
      const [rows, C] = [300, 130];
      const ln = { out: new Float32Array(rows * C), mean: new Float32Array(rows), rstd: new Float32Array(rows), x: r.uniform(rows * C), w: r.uniform(C), b: r.uniform(C) };
      err = Math.max(err, await vsJs(small, 'layernormForward (split)', ln, (b, v) => b.layernormForward(v.out, v.mean, v.rstd, v.x, v.w, v.b, rows, C), ['out', 'mean', 'rstd'], 1e-5));
      const [B, T, Ce, Vo] = [4, 40, 130, 300];
      const emb = { out: r.uniform(B * T * Ce), tokens: r.ints(B * T, 0, Vo), wte: r.uniform(Vo * Ce), wpe: r.uniform(T * Ce) };
      await vsJs(small, 'embeddingForward (split)', emb, (b, x) => b.embeddingForward(x.out, x.tokens, x.wte, x.wpe, B, T, Ce), ['out'], 'exact');
      err = Math.max(err, await vsJs(small, 'embeddingBackward (split)', emb, (b, x) => b.embeddingBackward(x.wte, x.wpe, x.out, x.tokens, B, T, Ce), ['wte', 'wpe'], 1e-5));
      const n = 100_003;
      const opt = { p: r.uniform(n), g: r.uniform(n), m: r.uniform(n, -0.1, 0.1), v: r.uniform(n, 0, 0.01), out: new Float32Array(2) };
      const h = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, t: 3, gradScale: 0.5 };
      err = Math.max(err, await vsJs(small, 'adamw (split)', opt, (b, x) => b.adamw(x.p, x.g, x.m, x.v, n, h), ['p', 'm', 'v'], 1e-6));
      err = Math.max(err, await vsJs(small, 'sumSquares (split)', opt, (b, x) => b.sumSquares(x.out, 1, x.g, n), ['out'], 1e-6));
      await vsJs(small, 'copy (split)', opt, (b, x) => b.copy(x.m, x.g, n - 10, 3, 7), ['m'], 'exact');
      t.diagnostic(`split paths: max relative error ${err.toExponential(2)}`);
    });

    test('a row too wide for any binding fails with a clear WebGpuLimitError, not a Dawn validation error', async () => {
      const { WebGpuLimitError } = await import('../../src/backend/webgpu.js');
      // One row of 20000 f32 (80 KB) is above the 64 KiB binding: layernorm cannot split a row.
      const C = 20_000;
      const x = small.alloc(C), w = small.alloc(C), b = small.alloc(C), out = small.alloc(C), mean = small.alloc(1), rstd = small.alloc(1);
      try {
        assert.throws(() => small.layernormForward(out, mean, rstd, x, w, b, 1, C), (e: unknown) => e instanceof WebGpuLimitError && /binding/i.test((e as Error).message));
        await small.sync(); // nothing half-recorded breaks the queue
      } finally {
        for (const buf of [x, w, b, out, mean, rstd]) small.free(buf);
      }
    });
  });
}
