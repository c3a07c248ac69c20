/**
 * The `js` backend: plain TypeScript loops over typed arrays. It is the readable reference and the oracle of the
 * conformance suite, so clarity wins over speed here; reductions accumulate in float64.
 */
import type { AdamWParams, Backend, DeviceBuffer, DType, MemoryStats, RngKey, SgdParams } from './backend.js';
import { MemoryAccountant } from './memory.js';
import { dropoutKeep, keyPrefix } from './rng.js';
import * as llama from './js-llama.js';
import { ropeTableValues } from './rope-table.js';

/** Float storage: float32 normally; float64 for double-precision gradient checks. */
type F = Float32Array | Float64Array;

class JsBuffer implements DeviceBuffer {
  constructor(
    readonly id: number,
    readonly dtype: DType,
    readonly data: F | Int32Array,
  ) {}
  get length(): number {
    return this.data.length;
  }
  get bytes(): number {
    return this.data.length * 4;
  }
}

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const LN_EPS = 1e-5;

export interface JsBackendOptions {
  /** Device budget in bytes (default: unbounded). */
  budget?: number;
  /**
   * Store f32 buffers as float64 (budget accounting still counts 4 bytes an element). Only for finite-difference
   * gradient checks, which need double precision to be meaningful.
   */
  float64?: boolean;
}

export class JsBackend implements Backend {
  readonly kind = 'js' as const;
  readonly threads = 1;
  readonly maxBufferBytes = Infinity;
  readonly name: string;
  private readonly mem: MemoryAccountant;
  private readonly float64: boolean;
  private nextId = 1;
  private readonly live = new Set<number>();

  constructor(opts: JsBackendOptions = {}) {
    this.mem = new MemoryAccountant(opts.budget ?? Infinity, 'js');
    this.float64 = opts.float64 ?? false;
    this.name = this.float64 ? 'js(float64)' : 'js';
  }

  // ---- memory ----
  alloc(length: number, dtype: DType = 'f32'): DeviceBuffer {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`alloc: length must be a non-negative integer, got ${length}`);
    this.mem.reserve(length * 4);
    const data = dtype === 'i32' ? new Int32Array(length) : this.float64 ? new Float64Array(length) : new Float32Array(length);
    const buf = new JsBuffer(this.nextId++, dtype, data);
    this.live.add(buf.id);
    return buf;
  }
  free(buf: DeviceBuffer): void {
    if (!this.live.delete(buf.id)) throw new Error(`js: double free or foreign buffer (id ${buf.id})`);
    this.mem.release(buf.bytes);
  }
  stats(): MemoryStats {
    return this.mem.stats();
  }
  resetHighWater(): void {
    this.mem.resetHighWater();
  }
  setBudget(bytes: number): void {
    this.mem.setBudget(bytes);
  }

  // ---- transfers ----
  async upload(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset = 0): Promise<void> {
    const d = this.d(buf);
    if (dstOffset + src.length > d.length) throw new RangeError(`upload: ${src.length} elements at offset ${dstOffset} overflow a buffer of ${d.length}`);
    if ((src instanceof Int32Array) !== (d instanceof Int32Array)) throw new TypeError(`upload: dtype mismatch (buffer is ${buf.dtype})`);
    d.set(src as never, dstOffset);
  }
  async download<T extends Float32Array | Int32Array>(buf: DeviceBuffer, dst?: T, srcOffset = 0, length?: number): Promise<T> {
    const d = this.d(buf);
    const n = length ?? d.length - srcOffset;
    // In float64 mode a download without `dst` keeps double precision (a Float64Array) for gradient checks.
    const out = (dst ?? (buf.dtype === 'i32' ? new Int32Array(n) : this.float64 ? new Float64Array(n) : new Float32Array(n))) as T;
    out.set(d.subarray(srcOffset, srcOffset + n) as never);
    return out;
  }
  async sync(): Promise<void> {}
  dispose(): void {
    this.live.clear();
  }

  /** The live storage of a buffer (tests: finite-difference checks poke values in place). */
  view(buf: DeviceBuffer): F | Int32Array {
    return this.d(buf);
  }

  private d(buf: DeviceBuffer): F | Int32Array {
    if (!this.live.has(buf.id)) throw new Error(`js: use of a freed or foreign buffer (id ${buf.id})`);
    return (buf as JsBuffer).data;
  }
  private f(buf: DeviceBuffer): F {
    const d = this.d(buf);
    if (d instanceof Int32Array) throw new TypeError(`js: expected an f32 buffer, got ${buf.dtype}`);
    return d;
  }
  private i(buf: DeviceBuffer): Int32Array {
    const d = this.d(buf);
    if (!(d instanceof Int32Array)) throw new TypeError(`js: expected an i32 buffer, got ${buf.dtype}`);
    return d;
  }

  // ---- elementwise ----
  fill(x: DeviceBuffer, value: number, n?: number, offset = 0): void {
    const d = this.d(x);
    d.fill(value, offset, offset + (n ?? d.length - offset));
  }
  copy(dst: DeviceBuffer, src: DeviceBuffer, n: number, dstOffset = 0, srcOffset = 0): void {
    this.d(dst).set(this.d(src).subarray(srcOffset, srcOffset + n) as never, dstOffset);
  }
  scale(x: DeviceBuffer, alpha: number, n?: number): void {
    const d = this.f(x);
    const m = n ?? d.length;
    for (let i = 0; i < m; i++) d[i] *= alpha;
  }
  add(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void {
    const o = this.f(out), x = this.f(a), y = this.f(b);
    for (let i = 0; i < n; i++) o[i] = x[i] + y[i];
  }
  axpy(y: DeviceBuffer, x: DeviceBuffer, alpha: number, n: number): void {
    const yy = this.f(y), xx = this.f(x);
    for (let i = 0; i < n; i++) yy[i] += alpha * xx[i];
  }
  sumSquares(out: DeviceBuffer, outIndex: number, x: DeviceBuffer, n: number): void {
    const d = this.f(x);
    let total = 0;
    for (let start = 0; start < n; start += 4096) {
      let block = 0;
      const end = Math.min(n, start + 4096);
      for (let i = start; i < end; i++) block += d[i] * d[i];
      total += block;
    }
    this.f(out)[outIndex] = total;
  }

  // ---- matmul ----
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number,
    offA = 0, offB = 0, offC = 0,
  ): void {
    gemmRef(transA, transB, M, N, K, alpha, this.f(A), lda, offA, this.f(B), ldb, offB, beta, this.f(C), ldc, offC);
  }
  gemmBatched(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, strideA: number, B: DeviceBuffer, ldb: number, strideB: number,
    beta: number, C: DeviceBuffer, ldc: number, strideC: number,
  ): void {
    const a = this.f(A), b = this.f(B), c = this.f(C);
    for (let i = 0; i < batch; i++) {
      gemmRef(transA, transB, M, N, K, alpha, a, lda, i * strideA, b, ldb, i * strideB, beta, c, ldc, i * strideC);
    }
  }
  addBias(out: DeviceBuffer, bias: DeviceBuffer, rows: number, cols: number): void {
    const o = this.f(out), b = this.f(bias);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) o[r * cols + c] += b[c];
  }
  biasBackward(dbias: DeviceBuffer, dout: DeviceBuffer, rows: number, cols: number): void {
    const db = this.f(dbias), d = this.f(dout);
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += d[r * cols + c];
      db[c] += s;
    }
  }

  // ---- GPT-2 kernels ----
  embeddingForward(out: DeviceBuffer, tokens: DeviceBuffer, wte: DeviceBuffer, wpe: DeviceBuffer | null, B: number, T: number, C: number): void {
    const o = this.f(out), tok = this.i(tokens), e = this.f(wte), p = wpe ? this.f(wpe) : null;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const ix = tok[b * T + t];
        const oo = (b * T + t) * C;
        for (let c = 0; c < C; c++) o[oo + c] = p ? e[ix * C + c] + p[t * C + c] : e[ix * C + c];
      }
    }
  }
  embeddingBackward(dwte: DeviceBuffer, dwpe: DeviceBuffer | null, dout: DeviceBuffer, tokens: DeviceBuffer, B: number, T: number, C: number): void {
    const de = this.f(dwte), dp = dwpe ? this.f(dwpe) : null, d = this.f(dout), tok = this.i(tokens);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const ix = tok[b * T + t];
        const oo = (b * T + t) * C;
        for (let c = 0; c < C; c++) {
          de[ix * C + c] += d[oo + c];
          if (dp) dp[t * C + c] += d[oo + c];
        }
      }
    }
  }
  layernormForward(out: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, b: DeviceBuffer, N: number, C: number): void {
    const o = this.f(out), mu = this.f(mean), rs = this.f(rstd), xx = this.f(x), ww = this.f(w), bb = this.f(b);
    for (let r = 0; r < N; r++) {
      const off = r * C;
      let m = 0;
      for (let c = 0; c < C; c++) m += xx[off + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (xx[off + c] - m) ** 2;
      v /= C;
      const s = 1 / Math.sqrt(v + LN_EPS);
      for (let c = 0; c < C; c++) o[off + c] = (xx[off + c] - m) * s * ww[c] + bb[c];
      mu[r] = m;
      rs[r] = s;
    }
  }
  layernormBackward(dx: DeviceBuffer, dw: DeviceBuffer, db: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void {
    const dxx = this.f(dx), dww = this.f(dw), dbb = this.f(db), d = this.f(dout), xx = this.f(x), ww = this.f(w), mu = this.f(mean), rs = this.f(rstd);
    const dwAcc = new Float64Array(C), dbAcc = new Float64Array(C);
    for (let r = 0; r < N; r++) {
      const off = r * C;
      const m = mu[r], s = rs[r];
      let dnormMean = 0, dnormNormMean = 0;
      for (let c = 0; c < C; c++) {
        const norm = (xx[off + c] - m) * s;
        const dnorm = ww[c] * d[off + c];
        dnormMean += dnorm;
        dnormNormMean += dnorm * norm;
      }
      dnormMean /= C;
      dnormNormMean /= C;
      for (let c = 0; c < C; c++) {
        const norm = (xx[off + c] - m) * s;
        const dnorm = ww[c] * d[off + c];
        dbAcc[c] += d[off + c];
        dwAcc[c] += norm * d[off + c];
        dxx[off + c] += (dnorm - dnormMean - norm * dnormNormMean) * s;
      }
    }
    for (let c = 0; c < C; c++) {
      dww[c] += dwAcc[c];
      dbb[c] += dbAcc[c];
    }
  }
  geluForward(out: DeviceBuffer, x: DeviceBuffer, n: number): void {
    const o = this.f(out), xx = this.f(x);
    for (let i = 0; i < n; i++) {
      const v = xx[i];
      o[i] = 0.5 * v * (1 + Math.tanh(GELU_SCALE * (v + 0.044715 * v * v * v)));
    }
  }
  geluBackward(dx: DeviceBuffer, x: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    const dxx = this.f(dx), xx = this.f(x), d = this.f(dout);
    for (let i = 0; i < n; i++) {
      const v = xx[i];
      const u = GELU_SCALE * (v + 0.044715 * v * v * v);
      const th = Math.tanh(u);
      const sech2 = 1 - th * th;
      const local = 0.5 * (1 + th) + 0.5 * v * sech2 * GELU_SCALE * (1 + 3 * 0.044715 * v * v);
      dxx[i] += local * d[i];
    }
  }
  splitHeads(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, qkv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const qq = this.f(q), kk = this.f(k), vv = this.f(v), src = this.f(qkv);
    const C = NH * hs;
    forHeads(B, T, NH, hs, (dst, s) => {
      qq[dst] = src[s];
      kk[dst] = src[s + C];
      vv[dst] = src[s + 2 * C];
    });
  }
  splitHeadsBackward(dqkv: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const g = this.f(dqkv), gq = this.f(dq), gk = this.f(dk), gv = this.f(dv);
    const C = NH * hs;
    forHeads(B, T, NH, hs, (h, s) => {
      g[s] += gq[h];
      g[s + C] += gk[h];
      g[s + 2 * C] += gv[h];
    });
  }
  mergeHeads(out: DeviceBuffer, y: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const o = this.f(out), yy = this.f(y);
    forHeadsMerged(B, T, NH, hs, (h, m) => {
      o[m] = yy[h];
    });
  }
  mergeHeadsBackward(dy: DeviceBuffer, dout: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const g = this.f(dy), d = this.f(dout);
    forHeadsMerged(B, T, NH, hs, (h, m) => {
      g[h] += d[m];
    });
  }
  causalSoftmaxForward(att: DeviceBuffer, rows: number, T: number, scale: number): void {
    const a = this.f(att);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < T; t++) {
        const off = (r * T + t) * T;
        let max = -Infinity;
        for (let j = 0; j <= t; j++) max = Math.max(max, scale * a[off + j]);
        let sum = 0;
        for (let j = 0; j <= t; j++) sum += Math.exp(scale * a[off + j] - max);
        for (let j = 0; j <= t; j++) a[off + j] = Math.exp(scale * a[off + j] - max) / sum;
        for (let j = t + 1; j < T; j++) a[off + j] = 0;
      }
    }
  }
  causalSoftmaxBackward(datt: DeviceBuffer, att: DeviceBuffer, rows: number, T: number, scale: number): void {
    const g = this.f(datt), p = this.f(att);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < T; t++) {
        const off = (r * T + t) * T;
        let dot = 0;
        for (let j = 0; j <= t; j++) dot += p[off + j] * g[off + j];
        for (let j = 0; j <= t; j++) g[off + j] = scale * p[off + j] * (g[off + j] - dot);
        for (let j = t + 1; j < T; j++) g[off + j] = 0;
      }
    }
  }
  dropoutForward(out: DeviceBuffer, x: DeviceBuffer, n: number, p: number, key: RngKey): void {
    const o = this.f(out), xx = this.f(x);
    const prefix = keyPrefix(key);
    const s = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) o[i] = dropoutKeep(prefix, i, p) ? xx[i] * s : 0;
  }
  dropoutBackward(dx: DeviceBuffer, dout: DeviceBuffer, n: number, p: number, key: RngKey): void {
    const g = this.f(dx), d = this.f(dout);
    const prefix = keyPrefix(key);
    const s = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) if (dropoutKeep(prefix, i, p)) g[i] += d[i] * s;
  }
  crossEntropyForward(losses: DeviceBuffer, lse: DeviceBuffer, logits: DeviceBuffer, targets: DeviceBuffer, N: number, V: number): void {
    const l = this.f(losses), ls = this.f(lse), z = this.f(logits), tg = this.i(targets);
    for (let r = 0; r < N; r++) {
      const off = r * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, z[off + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(z[off + j] - max);
      const logsum = max + Math.log(sum);
      ls[r] = logsum;
      const t = tg[r];
      l[r] = t < 0 ? 0 : logsum - z[off + t];
    }
  }
  crossEntropyBackward(dlogits: DeviceBuffer, logits: DeviceBuffer, lse: DeviceBuffer, targets: DeviceBuffer, N: number, V: number, gradScale: number): void {
    const g = this.f(dlogits), z = this.f(logits), ls = this.f(lse), tg = this.i(targets);
    for (let r = 0; r < N; r++) {
      const off = r * V;
      const t = tg[r];
      for (let j = 0; j < V; j++) {
        g[off + j] = t < 0 ? 0 : (Math.exp(z[off + j] - ls[r]) - (j === t ? 1 : 0)) * gradScale;
      }
    }
  }

  // ---- Llama kernels (js-llama.ts) ----
  rmsnormForward(out: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, N: number, C: number, eps: number): void {
    llama.rmsnormForward(this.f(out), this.f(rstd), this.f(x), this.f(w), N, C, eps);
  }
  rmsnormBackward(dx: DeviceBuffer, dw: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void {
    llama.rmsnormBackward(this.f(dx), this.f(dw), this.f(dout), this.f(x), this.f(w), this.f(rstd), N, C);
  }
  ropeTable(cs: DeviceBuffer, T: number, hs: number, theta: number): void {
    const values = ropeTableValues(T, hs, theta), d = this.f(cs);
    if (d.length < values.length) throw new RangeError(`ropeTable: cs needs ${values.length} elements (2·T·hs/2), has ${d.length}`);
    d.set(values);
  }
  ropeForward(out: DeviceBuffer, x: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    llama.ropeForward(this.f(out), this.f(x), this.f(cs), B, T, NH, hs);
  }
  ropeBackward(dx: DeviceBuffer, dout: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    llama.ropeBackward(this.f(dx), this.f(dout), this.f(cs), B, T, NH, hs);
  }
  swigluForward(out: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, n: number): void {
    llama.swigluForward(this.f(out), this.f(gate), this.f(up), n);
  }
  swigluBackward(dgate: DeviceBuffer, dup: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    llama.swigluBackward(this.f(dgate), this.f(dup), this.f(gate), this.f(up), this.f(dout), n);
  }

  // ---- optimizers ----
  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, n: number, h: AdamWParams): void {
    adamwArrays(this.f(param), this.f(grad), this.f(m), this.f(v), n, h);
  }
  sgd(param: DeviceBuffer, grad: DeviceBuffer, momentumBuf: DeviceBuffer | null, n: number, h: SgdParams): void {
    sgdArrays(this.f(param), this.f(grad), momentumBuf ? this.f(momentumBuf) : null, n, h);
  }
  adamwHost(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, h: AdamWParams): void {
    checkHost('adamwHost', n, { param, grad, m, v });
    adamwArrays(param, grad, m, v, n, h);
  }
  sgdHost(param: Float32Array, grad: Float32Array, momentumBuf: Float32Array | null, n: number, h: SgdParams): void {
    checkHost('sgdHost', n, momentumBuf ? { param, grad, momentumBuf } : { param, grad });
    sgdArrays(param, grad, momentumBuf, n, h);
  }
}

type F32 = Float32Array | Float64Array;

function checkHost(op: string, n: number, arrays: Record<string, Float32Array>): void {
  for (const [name, a] of Object.entries(arrays)) {
    if (!(a instanceof Float32Array)) throw new TypeError(`${op}: ${name} must be a Float32Array`);
    if (a.length < n) throw new RangeError(`${op}: ${name} needs ${n} elements but has ${a.length}`);
  }
}

function adamwArrays(p: F32, g: F32, mm: F32, vv: F32, n: number, h: AdamWParams): void {
  const bc1 = 1 - Math.pow(h.beta1, h.t);
  const bc2 = 1 - Math.pow(h.beta2, h.t);
  for (let i = 0; i < n; i++) {
    const gi = g[i] * h.gradScale;
    const mi = (mm[i] = h.beta1 * mm[i] + (1 - h.beta1) * gi);
    const vi = (vv[i] = h.beta2 * vv[i] + (1 - h.beta2) * gi * gi);
    const mhat = mi / bc1;
    const vhat = vi / bc2;
    p[i] -= h.lr * (mhat / (Math.sqrt(vhat) + h.eps) + h.weightDecay * p[i]);
  }
}

function sgdArrays(p: F32, g: F32, buf: F32 | null, n: number, h: SgdParams): void {
  for (let i = 0; i < n; i++) {
    let d = g[i] * h.gradScale + h.weightDecay * p[i];
    if (buf && h.momentum !== 0) {
      const b = (buf[i] = h.momentum * buf[i] + d);
      d = h.nesterov ? d + h.momentum * b : b;
    }
    p[i] -= h.lr * d;
  }
}

/** Calls fn(headIndex, packedIndex) for every element; packed is (B,T,3C) q-slot, head is (B,NH,T,hs). */
function forHeads(B: number, T: number, NH: number, hs: number, fn: (head: number, packed: number) => void): void {
  const C = NH * hs;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < NH; h++)
      for (let t = 0; t < T; t++)
        for (let e = 0; e < hs; e++) fn(((b * NH + h) * T + t) * hs + e, (b * T + t) * 3 * C + h * hs + e);
}

/** Calls fn(headIndex, mergedIndex) for every element; merged is (B,T,C), head is (B,NH,T,hs). */
function forHeadsMerged(B: number, T: number, NH: number, hs: number, fn: (head: number, merged: number) => void): void {
  const C = NH * hs;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < NH; h++)
      for (let t = 0; t < T; t++)
        for (let e = 0; e < hs; e++) fn(((b * NH + h) * T + t) * hs + e, (b * T + t) * C + h * hs + e);
}

/** Reference GEMM, float64 accumulation: C = alpha op(A) op(B) + beta C. */
export function gemmRef(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  a: F, lda: number, offA: number, b: F, ldb: number, offB: number,
  beta: number, c: F, ldc: number, offC: number,
): void {
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const av = transA ? a[offA + k * lda + i] : a[offA + i * lda + k];
      if (transB) {
        for (let j = 0; j < N; j++) acc[j] += av * b[offB + j * ldb + k];
      } else {
        const row = offB + k * ldb;
        for (let j = 0; j < N; j++) acc[j] += av * b[row + j];
      }
    }
    const crow = offC + i * ldc;
    for (let j = 0; j < N; j++) c[crow + j] = alpha * acc[j] + (beta === 0 ? 0 : beta * c[crow + j]);
  }
}
