/**
 * The `cpu` backend: kernels in a C++17 addon (native/), matrix products through single-threaded OpenBLAS
 * cblas_sgemm (or the built-in blocked GEMM when OpenBLAS is absent) split over the instance's own threads.
 *
 * This wrapper owns the budget (the same MemoryAccountant as js, so plans and run-time checks agree), checks that
 * buffers belong to this backend, fills in defaults, and forwards to the addon, which validates sizes and runs the
 * kernel synchronously. upload/download run on libuv's thread pool; a kernel touching a buffer with a transfer in
 * flight waits for it, so results are as if every call ran in order.
 */
import type { AdamWParams, Backend, DeviceBuffer, DType, MemoryStats, RngKey, SgdParams } from './backend.js';
import { BackendUnavailableError, type BackendOptions } from './index.js';
import { MemoryAccountant } from './memory.js';
import { loadCpuAddon, type NativeCpuAddon, type NativeCpuDevice } from './native-loader.js';
import { keyPrefix } from './rng.js';

export { cpuAddonInfo, CPU_INSTALL_HINT } from './native-loader.js';

const MAX_THREADS = 1024;

/**
 * The device's memory region for a finite budget (native/arena.h): the budget, plus 1/64 for the 64-byte rounding of
 * each buffer and for fragmentation (what still does not fit is allocated outside it). Budgets past 64 TiB (unbounded
 * in practice) get no region: the table allocates per buffer.
 */
export function arenaBytes(budget: number): number {
  return Number.isFinite(budget) && budget <= 2 ** 46 ? Math.ceil(budget + budget / 64) : 0;
}

class CpuBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly id: number,
    readonly dtype: DType,
    readonly length: number,
    readonly owner: CpuBackend,
  ) {}
  get bytes(): number {
    return this.length * 4;
  }
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly name: string;
  readonly threads: number;
  readonly maxBufferBytes = Infinity;
  private readonly native: NativeCpuDevice;
  private readonly mem: MemoryAccountant;
  private readonly inFlight = new Set<Promise<unknown>>();
  private disposed = false;
  /** Whether the device serves buffers from a reserved region (a finite budget; native/arena.h). */
  private readonly hasArena: boolean;

  constructor(addon: NativeCpuAddon, opts: { threads: number; budget: number }) {
    this.threads = opts.threads;
    this.name = `cpu(threads=${opts.threads}, blas=${addon.blas})`;
    this.mem = new MemoryAccountant(opts.budget, this.name);
    this.native = new addon.CpuDevice(opts.threads, arenaBytes(opts.budget));
    this.hasArena = this.native.memoryStats().arenaBytes > 0;
  }

  // ---- memory ----
  alloc(length: number, dtype: DType = 'f32'): DeviceBuffer {
    this.alive('alloc');
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`alloc: length must be a non-negative integer, got ${length}`);
    if (dtype !== 'f32' && dtype !== 'i32') throw new TypeError(`alloc: dtype must be 'f32' or 'i32', got ${String(dtype)}`);
    this.mem.reserve(length * 4);
    try {
      return new CpuBuffer(this.native.alloc(length, dtype === 'f32' ? 0 : 1), dtype, length, this);
    } catch (e) {
      this.mem.release(length * 4);
      throw e;
    }
  }
  free(buf: DeviceBuffer): void {
    if (!(buf instanceof CpuBuffer) || buf.owner !== this || buf.freed) {
      throw new Error(`${this.name}: double free or foreign buffer (id ${buf.id})`);
    }
    this.native.free(buf.id);
    buf.freed = true;
    this.mem.release(buf.bytes);
  }
  stats(): MemoryStats {
    const s = this.mem.stats();
    if (!this.hasArena) return s;
    // With an arena, the table allocates only what the arena could not hold (native/buffers.cc `allocated`).
    return { ...s, outsideRegion: this.native.memoryStats().allocated };
  }
  resetHighWater(): void {
    this.mem.resetHighWater();
  }
  setBudget(bytes: number): void {
    this.mem.setBudget(bytes);
  }

  // ---- transfers ----
  async upload(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset = 0): Promise<void> {
    await this.uploadTimed(buf, src, dstOffset);
  }
  async uploadTimed(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset = 0): Promise<number> {
    // async like js (bad arguments reject); the copy is still enqueued synchronously, before the first await.
    this.alive('upload');
    return await this.track(this.native.upload(this.h(buf), src, dstOffset));
  }
  async download<T extends Float32Array | Int32Array>(buf: DeviceBuffer, dst?: T, srcOffset = 0, length?: number): Promise<T> {
    this.alive('download');
    const n = length ?? buf.length - srcOffset;
    const out = (dst ?? (buf.dtype === 'i32' ? new Int32Array(Math.max(n, 0)) : new Float32Array(Math.max(n, 0)))) as T;
    // Enqueued before the first await, so the copy sees exactly the kernels called before download().
    await this.track(this.native.download(this.h(buf), out, srcOffset, n));
    return out;
  }
  async sync(): Promise<void> {
    // Kernels are synchronous; only transfers can be outstanding. Their own callers see their errors.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
  dispose(): void {
    if (this.disposed) return;
    this.native.dispose();
    this.disposed = true;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = (): void => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }
  private alive(op: string): void {
    if (this.disposed) throw new Error(`${this.name}.${op}: the backend was disposed`);
  }
  /** The native id of a buffer of this backend (foreign or freed buffers are refused here, by name). */
  private h(buf: DeviceBuffer): number {
    if (!(buf instanceof CpuBuffer) || buf.owner !== this) throw new Error(`${this.name}: buffer ${buf.id} belongs to another backend`);
    if (buf.freed) throw new Error(`${this.name}: use of a freed buffer (id ${buf.id})`);
    return buf.id;
  }

  // ---- elementwise / utility ----
  fill(x: DeviceBuffer, value: number, n?: number, offset = 0): void {
    // Int32Array.fill converts with ToInt32; `| 0` is exactly that.
    this.native.fill(this.h(x), x.dtype === 'i32' ? value | 0 : value, n ?? x.length - offset, offset);
  }
  copy(dst: DeviceBuffer, src: DeviceBuffer, n: number, dstOffset = 0, srcOffset = 0): void {
    this.native.copy(this.h(dst), this.h(src), n, dstOffset, srcOffset);
  }
  scale(x: DeviceBuffer, alpha: number, n?: number): void {
    this.native.scale(this.h(x), alpha, n ?? x.length);
  }
  add(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void {
    this.native.add(this.h(out), this.h(a), this.h(b), n);
  }
  axpy(y: DeviceBuffer, x: DeviceBuffer, alpha: number, n: number): void {
    this.native.axpy(this.h(y), this.h(x), alpha, n);
  }
  sumSquares(out: DeviceBuffer, outIndex: number, x: DeviceBuffer, n: number): void {
    this.native.sumSquares(this.h(out), outIndex, this.h(x), n);
  }

  // ---- matmul ----
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number,
    offA = 0, offB = 0, offC = 0,
  ): void {
    this.native.gemm(transA, transB, M, N, K, alpha, this.h(A), lda, this.h(B), ldb, beta, this.h(C), ldc, offA, offB, offC);
  }
  gemmBatched(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, strideA: number, B: DeviceBuffer, ldb: number, strideB: number,
    beta: number, C: DeviceBuffer, ldc: number, strideC: number,
  ): void {
    this.native.gemmBatched(
      batch, transA, transB, M, N, K, alpha, this.h(A), lda, strideA, this.h(B), ldb, strideB, beta, this.h(C), ldc, strideC,
    );
  }
  addBias(out: DeviceBuffer, bias: DeviceBuffer, rows: number, cols: number): void {
    this.native.addBias(this.h(out), this.h(bias), rows, cols);
  }
  biasBackward(dbias: DeviceBuffer, dout: DeviceBuffer, rows: number, cols: number): void {
    this.native.biasBackward(this.h(dbias), this.h(dout), rows, cols);
  }

  // ---- GPT-2 kernels ----
  embeddingForward(out: DeviceBuffer, tokens: DeviceBuffer, wte: DeviceBuffer, wpe: DeviceBuffer | null, B: number, T: number, C: number): void {
    this.native.embeddingForward(this.h(out), this.h(tokens), this.h(wte), wpe ? this.h(wpe) : null, B, T, C);
  }
  embeddingBackward(dwte: DeviceBuffer, dwpe: DeviceBuffer | null, dout: DeviceBuffer, tokens: DeviceBuffer, B: number, T: number, C: number): void {
    this.native.embeddingBackward(this.h(dwte), dwpe ? this.h(dwpe) : null, this.h(dout), this.h(tokens), B, T, C);
  }
  layernormForward(out: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, b: DeviceBuffer, N: number, C: number): void {
    this.native.layernormForward(this.h(out), this.h(mean), this.h(rstd), this.h(x), this.h(w), this.h(b), N, C);
  }
  layernormBackward(
    dx: DeviceBuffer, dw: DeviceBuffer, db: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer,
    mean: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number,
  ): void {
    this.native.layernormBackward(
      this.h(dx), this.h(dw), this.h(db), this.h(dout), this.h(x), this.h(w), this.h(mean), this.h(rstd), N, C,
    );
  }
  geluForward(out: DeviceBuffer, x: DeviceBuffer, n: number): void {
    this.native.geluForward(this.h(out), this.h(x), n);
  }
  geluBackward(dx: DeviceBuffer, x: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    this.native.geluBackward(this.h(dx), this.h(x), this.h(dout), n);
  }
  splitHeads(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, qkv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.splitHeads(this.h(q), this.h(k), this.h(v), this.h(qkv), B, T, NH, hs);
  }
  splitHeadsBackward(dqkv: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.splitHeadsBackward(this.h(dqkv), this.h(dq), this.h(dk), this.h(dv), B, T, NH, hs);
  }
  mergeHeads(out: DeviceBuffer, y: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.mergeHeads(this.h(out), this.h(y), B, T, NH, hs);
  }
  mergeHeadsBackward(dy: DeviceBuffer, dout: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.mergeHeadsBackward(this.h(dy), this.h(dout), B, T, NH, hs);
  }
  causalSoftmaxForward(att: DeviceBuffer, rows: number, T: number, scale: number): void {
    this.native.causalSoftmaxForward(this.h(att), rows, T, scale);
  }
  causalSoftmaxBackward(datt: DeviceBuffer, att: DeviceBuffer, rows: number, T: number, scale: number): void {
    this.native.causalSoftmaxBackward(this.h(datt), this.h(att), rows, T, scale);
  }
  dropoutForward(out: DeviceBuffer, x: DeviceBuffer, n: number, p: number, key: RngKey): void {
    this.native.dropoutForward(this.h(out), this.h(x), n, p, keyPrefix(key));
  }
  dropoutBackward(dx: DeviceBuffer, dout: DeviceBuffer, n: number, p: number, key: RngKey): void {
    this.native.dropoutBackward(this.h(dx), this.h(dout), n, p, keyPrefix(key));
  }
  crossEntropyForward(losses: DeviceBuffer, lse: DeviceBuffer, logits: DeviceBuffer, targets: DeviceBuffer, N: number, V: number): void {
    this.native.crossEntropyForward(this.h(losses), this.h(lse), this.h(logits), this.h(targets), N, V);
  }
  crossEntropyBackward(dlogits: DeviceBuffer, logits: DeviceBuffer, lse: DeviceBuffer, targets: DeviceBuffer, N: number, V: number, gradScale: number): void {
    this.native.crossEntropyBackward(this.h(dlogits), this.h(logits), this.h(lse), this.h(targets), N, V, gradScale);
  }

  // ---- Llama kernels ----
  rmsnormForward(out: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, N: number, C: number, eps: number): void {
    this.native.rmsnormForward(this.h(out), this.h(rstd), this.h(x), this.h(w), N, C, eps);
  }
  rmsnormBackward(dx: DeviceBuffer, dw: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void {
    this.native.rmsnormBackward(this.h(dx), this.h(dw), this.h(dout), this.h(x), this.h(w), this.h(rstd), N, C);
  }
  ropeTable(cs: DeviceBuffer, T: number, hs: number, theta: number): void {
    this.native.ropeTable(this.h(cs), T, hs, theta);
  }
  ropeForward(out: DeviceBuffer, x: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.ropeForward(this.h(out), this.h(x), this.h(cs), B, T, NH, hs);
  }
  ropeBackward(dx: DeviceBuffer, dout: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    this.native.ropeBackward(this.h(dx), this.h(dout), this.h(cs), B, T, NH, hs);
  }
  swigluForward(out: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, n: number): void {
    this.native.swigluForward(this.h(out), this.h(gate), this.h(up), n);
  }
  swigluBackward(dgate: DeviceBuffer, dup: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    this.native.swigluBackward(this.h(dgate), this.h(dup), this.h(gate), this.h(up), this.h(dout), n);
  }

  // ---- optimizers ----
  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, n: number, h: AdamWParams): void {
    // Bias corrections with JavaScript's Math.pow, exactly as js computes them.
    const bc1 = 1 - Math.pow(h.beta1, h.t);
    const bc2 = 1 - Math.pow(h.beta2, h.t);
    this.native.adamw(
      this.h(param), this.h(grad), this.h(m), this.h(v), n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.gradScale, bc1, bc2,
    );
  }
  sgd(param: DeviceBuffer, grad: DeviceBuffer, momentumBuf: DeviceBuffer | null, n: number, h: SgdParams): void {
    this.native.sgd(
      this.h(param), this.h(grad), momentumBuf ? this.h(momentumBuf) : null, n, h.lr, h.momentum, h.weightDecay, h.nesterov, h.gradScale,
    );
  }
  adamwHost(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, h: AdamWParams): void {
    this.alive('adamwHost');
    const bc1 = 1 - Math.pow(h.beta1, h.t);
    const bc2 = 1 - Math.pow(h.beta2, h.t);
    this.native.adamwHost(param, grad, m, v, n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.gradScale, bc1, bc2);
  }
  sgdHost(param: Float32Array, grad: Float32Array, momentumBuf: Float32Array | null, n: number, h: SgdParams): void {
    this.alive('sgdHost');
    this.native.sgdHost(param, grad, momentumBuf, n, h.lr, h.momentum, h.weightDecay, h.nesterov, h.gradScale);
  }
}

/** A cpu backend; throws BackendUnavailableError (saying what to install) when the addon is not built. */
export function createCpuBackend(opts: BackendOptions = {}): Backend {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`cpu backend: threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
  }
  return new CpuBackend(addonOrThrow(), { threads, budget: opts.budget ?? Infinity });
}

/**
 * Best observed GFLOP/s of an n x n x n sgemm through the backend's threaded gemm with `threads` threads (blocks
 * the calling thread for about half a second).
 */
export function measureSgemmGflops(n = 1024, threads = 1): number {
  return addonOrThrow().measureSgemmGflops(n, threads);
}

/** Which sgemm the addon links: 'openblas' or the portable 'builtin' fallback. */
export function cpuBlas(): 'openblas' | 'builtin' {
  return addonOrThrow().blas;
}

function addonOrThrow(): NativeCpuAddon {
  try {
    return loadCpuAddon();
  } catch (e) {
    throw new BackendUnavailableError('cpu', (e as Error).message);
  }
}
