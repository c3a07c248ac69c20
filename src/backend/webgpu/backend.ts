/**
 * The `webgpu` backend: memory, transfers and ordering over one GPUDevice; the kernels live in ./kernels/*.
 *
 * Kernels are recorded, not run: a call validates its arguments and appends a dispatch to the current command
 * encoder (recorder.ts); batches are submitted on upload/download/sync or every few hundred dispatches. Uploads
 * submit what was recorded first, so every effect happens in call order. Device errors (Dawn validation, device
 * loss) are collected and thrown from the next sync or download, naming the first one.
 */
/// <reference types="@webgpu/types" />
import { totalmem } from 'node:os';
import type { AdamWParams, Backend, DeviceBuffer, DeviceBytes, DType, MemoryStats, RngKey, SgdParams } from '../backend.js';
import { MemoryAccountant } from '../memory.js';
import { BufferPool, GpuBuffer } from './buffer-pool.js';
import { webgpuDeviceBytes } from './device-bytes.js';
import type { OpenedDevice } from './dawn.js';
import type { KernelContext } from './kernel.js';
import { kernelLimits, WebGpuLimitError, type KernelLimits } from './limits.js';
import { PipelineCache } from './pipelines.js';
import { CommandRecorder } from './recorder.js';
import { StagingPool } from './staging-pool.js';
import * as elementwise from './kernels/elementwise.js';
import { geluBackward, geluForward } from './kernels/activation.js';
import { dropoutBackward, dropoutForward } from './kernels/dropout.js';
import { adamw, sgd } from './kernels/optim.js';
import { sumSquares } from './kernels/reduce.js';
import { gemm } from './kernels/gemm.js';
import { embeddingBackward, embeddingForward } from './kernels/embedding.js';
import { layernormBackward, layernormForward } from './kernels/layernorm.js';
import { causalSoftmaxBackward, causalSoftmaxForward, mergeHeads, splitHeads } from './kernels/attention.js';
import { crossEntropyBackward, crossEntropyForward } from './kernels/cross-entropy.js';
import { addBias, biasBackward } from './kernels/bias.js';
import { rmsnormBackward, rmsnormForward } from './kernels/rmsnorm.js';
import { ropeBackward, ropeForward } from './kernels/rope.js';
import { swigluBackward, swigluForward } from './kernels/swiglu.js';
import { ropeTableValues } from '../rope-table.js';

export interface WebGpuBackendSettings {
  budget?: number;
  /** Lower the storage-binding limit (bytes) below the device's, to exercise the split paths cheaply in tests. */
  maxBindingBytes?: number;
  /** Most bytes of freed buffers kept for reuse (default: a quarter of the budget, at most 1 GiB). */
  poolBytes?: number;
}

const HOST_CHUNK = 16 * 2 ** 20;

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly threads = 1;
  readonly name: string;
  readonly maxBufferBytes: number;
  readonly limits: KernelLimits;
  readonly deviceBytes: DeviceBytes;
  private readonly device: GPUDevice;
  private readonly mem: MemoryAccountant;
  private readonly pool: BufferPool;
  private readonly staging: StagingPool;
  private readonly recorder: CommandRecorder;
  private readonly ctx: KernelContext;
  private readonly errors: string[] = [];
  private nextId = 1;
  private disposed = false;

  constructor(opened: OpenedDevice, settings: WebGpuBackendSettings = {}) {
    this.device = opened.device;
    this.name = `webgpu(${opened.adapterName}, ${opened.dawnBackend})`;
    this.limits = kernelLimits(this.device, settings.maxBindingBytes);
    // Every kernel binds windows and splits its work (see limits.ts), so one buffer may be as large as the device allows.
    this.maxBufferBytes = this.limits.maxBufferSize;
    const budget = settings.budget ?? defaultBudget(opened);
    this.mem = new MemoryAccountant(budget, this.name);
    this.recorder = new CommandRecorder(this.device, this.limits.uniformAlign);
    const poolBytes = settings.poolBytes ?? Math.min(2 ** 30, Number.isFinite(budget) ? budget / 4 : 2 ** 30);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool(this.device, usage, this.limits.maxBufferSize, poolBytes, () => this.mem.stats().budget, () => this.recorder.flush());
    this.deviceBytes = webgpuDeviceBytes(this.limits);
    this.staging = new StagingPool(this.device, this.limits.maxBufferSize, this.recorder);
    this.ctx = { device: this.device, limits: this.limits, pipelines: new PipelineCache(this.device), recorder: this.recorder };
    this.device.addEventListener('uncapturederror', (e) => this.errors.push((e as GPUUncapturedErrorEvent).error.message));
    void this.device.lost.then((info) => {
      if (!this.disposed) this.errors.push(`device lost (${info.reason}): ${info.message}`);
    });
  }

  // ---- memory ----
  alloc(length: number, dtype: DType = 'f32'): DeviceBuffer {
    this.alive('alloc');
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`alloc: length must be a non-negative integer, got ${length}`);
    if (dtype !== 'f32' && dtype !== 'i32') throw new TypeError(`alloc: dtype must be 'f32' or 'i32', got ${String(dtype)}`);
    if (length * 4 > this.limits.maxBufferSize) {
      throw new WebGpuLimitError(`${this.name}: alloc of ${length * 4} bytes exceeds the device's maxBufferSize of ${this.limits.maxBufferSize} bytes`);
    }
    // The budget counts device bytes: the buffer's size class, not the bytes asked for.
    const { buffer, capacity } = this.acquireReserved(length * 4, `buffer ${this.nextId}`);
    return new GpuBuffer(this.nextId++, dtype, length, buffer, capacity, this);
  }
  free(buf: DeviceBuffer): void {
    if (!(buf instanceof GpuBuffer) || buf.owner !== this || buf.freed) throw new Error(`${this.name}: double free or foreign buffer (id ${buf.id})`);
    buf.freed = true;
    if (!this.disposed) this.pool.release(buf.gpu, buf.capacity);
    this.mem.release(buf.capacity);
  }
  stats(): MemoryStats {
    return { ...this.mem.stats(), heldHighWater: this.pool.stats().heldHighWater };
  }
  resetHighWater(): void {
    this.mem.resetHighWater();
    this.pool.resetHighWater();
  }
  setBudget(bytes: number): void {
    this.mem.setBudget(bytes);
    this.pool.trim(bytes - this.pool.stats().liveBytes);
  }
  /** Pool and dispatch counters (tests, benchmarks). */
  poolStats(): { liveBytes: number; pooledBytes: number; heldHighWater: number; dispatches: number; submits: number; pipelines: number } {
    return { ...this.pool.stats(), dispatches: this.recorder.totalDispatches, submits: this.recorder.totalSubmits, pipelines: this.ctx.pipelines.size };
  }

  // ---- transfers ----
  async upload(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset = 0): Promise<void> {
    const b = this.buf(buf, 'upload', 'buf');
    if ((src instanceof Int32Array) !== (b.dtype === 'i32')) throw new TypeError(`upload: dtype mismatch (buffer is ${b.dtype}, source is ${src.constructor.name})`);
    if (!Number.isInteger(dstOffset) || dstOffset < 0 || dstOffset + src.length > b.length) {
      throw new RangeError(`upload: ${src.length} elements at offset ${dstOffset} overflow a buffer of ${b.length}`);
    }
    if (src.length === 0) return;
    // Kernels recorded before this upload must run before it: submit them first (queue order does the rest).
    this.recorder.flush();
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    if (!(src.buffer instanceof SharedArrayBuffer)) {
      this.device.queue.writeBuffer(b.gpu, dstOffset * 4, src.buffer, src.byteOffset, src.byteLength);
      return;
    }
    // Dawn does not accept SharedArrayBuffer sources: go through a private bounce buffer.
    const bounce = new Uint8Array(Math.min(HOST_CHUNK, bytes.length));
    for (let done = 0; done < bytes.length; done += bounce.length) {
      const n = Math.min(bounce.length, bytes.length - done);
      bounce.set(bytes.subarray(done, done + n));
      this.device.queue.writeBuffer(b.gpu, dstOffset * 4 + done, bounce.buffer, 0, n);
    }
  }

  async download<T extends Float32Array | Int32Array>(buf: DeviceBuffer, dst?: T, srcOffset = 0, length?: number): Promise<T> {
    const b = this.buf(buf, 'download', 'buf');
    const n = length ?? b.length - srcOffset;
    if (!Number.isInteger(srcOffset) || srcOffset < 0 || !Number.isInteger(n) || n < 0 || srcOffset + n > b.length) {
      throw new RangeError(`download: ${n} elements from offset ${srcOffset} exceed a buffer of ${b.length}`);
    }
    const out = (dst ?? (b.dtype === 'i32' ? new Int32Array(n) : new Float32Array(n))) as T;
    if (out.length < n) throw new RangeError(`download: host array has ${out.length} elements, ${n} are needed`);
    if (n > 0) {
      await this.staging.read(b.gpu, srcOffset * 4, n * 4, new Uint8Array(out.buffer, out.byteOffset, n * 4));
    }
    this.throwDeviceErrors();
    return out;
  }

  async sync(): Promise<void> {
    this.alive('sync');
    await this.recorder.drain();
    this.throwDeviceErrors();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.recorder.destroy();
    this.pool.destroyAll();
    this.staging.destroyAll();
    this.device.destroy();
  }

  // ---- elementwise / utility ----
  fill(x: DeviceBuffer, value: number, n?: number, offset = 0): void {
    const b = this.buf(x, 'fill', 'x');
    const count = n ?? b.length - offset;
    const bits = new Uint32Array((b.dtype === 'i32' ? Int32Array.of(value) : Float32Array.of(value)).buffer)[0];
    this.within('fill', 'x', b, offset, count);
    elementwise.fill(this.ctx, b, bits, count, offset);
  }
  copy(dst: DeviceBuffer, src: DeviceBuffer, n: number, dstOffset = 0, srcOffset = 0): void {
    const d = this.buf(dst, 'copy', 'dst'), s = this.buf(src, 'copy', 'src');
    this.within('copy', 'dst', d, dstOffset, n);
    this.within('copy', 'src', s, srcOffset, n);
    elementwise.copy(this.ctx, d, s, n, dstOffset, srcOffset, (bytes) => this.scratch(bytes));
  }
  scale(x: DeviceBuffer, alpha: number, n?: number): void {
    const b = this.f32(x, 'scale', 'x');
    elementwise.scale(this.ctx, b, alpha, n ?? b.length);
  }
  add(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void {
    elementwise.add(this.ctx, this.f32(out, 'add', 'out'), this.f32(a, 'add', 'a'), this.f32(b, 'add', 'b'), n);
  }
  axpy(y: DeviceBuffer, x: DeviceBuffer, alpha: number, n: number): void {
    elementwise.axpy(this.ctx, this.f32(y, 'axpy', 'y'), this.f32(x, 'axpy', 'x'), alpha, n);
  }
  sumSquares(out: DeviceBuffer, outIndex: number, x: DeviceBuffer, n: number): void {
    sumSquares(this.ctx, this.f32(out, 'sumSquares', 'out'), outIndex, this.f32(x, 'sumSquares', 'x'), n, (bytes) => this.scratch(bytes));
  }

  // ---- matmul ----
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number,
    offA = 0, offB = 0, offC = 0,
  ): void {
    this.gemmBatchedAt(1, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, offA, offB, offC, 'gemm');
  }
  gemmBatched(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, strideA: number, B: DeviceBuffer, ldb: number, strideB: number,
    beta: number, C: DeviceBuffer, ldc: number, strideC: number,
  ): void {
    this.gemmBatchedAt(batch, transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, 0, 0, 0, 'gemmBatched');
  }
  addBias(out: DeviceBuffer, bias: DeviceBuffer, rows: number, cols: number): void {
    addBias(this.ctx, this.f32(out, 'addBias', 'out'), this.f32(bias, 'addBias', 'bias'), rows, cols);
  }
  biasBackward(dbias: DeviceBuffer, dout: DeviceBuffer, rows: number, cols: number): void {
    biasBackward(this.ctx, this.f32(dbias, 'biasBackward', 'dbias'), this.f32(dout, 'biasBackward', 'dout'), rows, cols);
  }

  // ---- GPT-2 kernels ----
  embeddingForward(out: DeviceBuffer, tokens: DeviceBuffer, wte: DeviceBuffer, wpe: DeviceBuffer | null, B: number, T: number, C: number): void {
    const k = 'embeddingForward';
    embeddingForward(this.ctx, this.f32(out, k, 'out'), this.i32(tokens, k, 'tokens'), this.f32(wte, k, 'wte'), wpe && this.f32(wpe, k, 'wpe'), B, T, C);
  }
  embeddingBackward(dwte: DeviceBuffer, dwpe: DeviceBuffer | null, dout: DeviceBuffer, tokens: DeviceBuffer, B: number, T: number, C: number): void {
    const k = 'embeddingBackward';
    embeddingBackward(this.ctx, this.f32(dwte, k, 'dwte'), dwpe && this.f32(dwpe, k, 'dwpe'), this.f32(dout, k, 'dout'), this.i32(tokens, k, 'tokens'), B, T, C);
  }
  layernormForward(out: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, b: DeviceBuffer, N: number, C: number): void {
    const k = 'layernormForward';
    layernormForward(this.ctx, this.f32(out, k, 'out'), this.f32(mean, k, 'mean'), this.f32(rstd, k, 'rstd'), this.f32(x, k, 'x'), this.f32(w, k, 'w'), this.f32(b, k, 'b'), N, C);
  }
  layernormBackward(dx: DeviceBuffer, dw: DeviceBuffer, db: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void {
    const k = 'layernormBackward';
    layernormBackward(this.ctx, this.f32(dx, k, 'dx'), this.f32(dw, k, 'dw'), this.f32(db, k, 'db'), this.f32(dout, k, 'dout'), this.f32(x, k, 'x'), this.f32(w, k, 'w'), this.f32(mean, k, 'mean'), this.f32(rstd, k, 'rstd'), N, C);
  }
  geluForward(out: DeviceBuffer, x: DeviceBuffer, n: number): void {
    geluForward(this.ctx, this.f32(out, 'geluForward', 'out'), this.f32(x, 'geluForward', 'x'), n);
  }
  geluBackward(dx: DeviceBuffer, x: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    geluBackward(this.ctx, this.f32(dx, 'geluBackward', 'dx'), this.f32(x, 'geluBackward', 'x'), this.f32(dout, 'geluBackward', 'dout'), n);
  }
  splitHeads(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, qkv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const n = 'splitHeads';
    splitHeads(this.ctx, this.f32(q, n, 'q'), this.f32(k, n, 'k'), this.f32(v, n, 'v'), this.f32(qkv, n, 'qkv'), B, T, NH, hs, false);
  }
  splitHeadsBackward(dqkv: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const n = 'splitHeadsBackward';
    splitHeads(this.ctx, this.f32(dq, n, 'dq'), this.f32(dk, n, 'dk'), this.f32(dv, n, 'dv'), this.f32(dqkv, n, 'dqkv'), B, T, NH, hs, true);
  }
  mergeHeads(out: DeviceBuffer, y: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    mergeHeads(this.ctx, this.f32(out, 'mergeHeads', 'out'), this.f32(y, 'mergeHeads', 'y'), B, T, NH, hs, false);
  }
  mergeHeadsBackward(dy: DeviceBuffer, dout: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    mergeHeads(this.ctx, this.f32(dout, 'mergeHeadsBackward', 'dout'), this.f32(dy, 'mergeHeadsBackward', 'dy'), B, T, NH, hs, true);
  }
  causalSoftmaxForward(att: DeviceBuffer, rows: number, T: number, scale: number): void {
    causalSoftmaxForward(this.ctx, this.f32(att, 'causalSoftmaxForward', 'att'), rows, T, scale);
  }
  causalSoftmaxBackward(datt: DeviceBuffer, att: DeviceBuffer, rows: number, T: number, scale: number): void {
    causalSoftmaxBackward(this.ctx, this.f32(datt, 'causalSoftmaxBackward', 'datt'), this.f32(att, 'causalSoftmaxBackward', 'att'), rows, T, scale);
  }
  dropoutForward(out: DeviceBuffer, x: DeviceBuffer, n: number, p: number, key: RngKey): void {
    dropoutForward(this.ctx, this.f32(out, 'dropoutForward', 'out'), this.f32(x, 'dropoutForward', 'x'), n, p, key);
  }
  dropoutBackward(dx: DeviceBuffer, dout: DeviceBuffer, n: number, p: number, key: RngKey): void {
    dropoutBackward(this.ctx, this.f32(dx, 'dropoutBackward', 'dx'), this.f32(dout, 'dropoutBackward', 'dout'), n, p, key);
  }
  crossEntropyForward(losses: DeviceBuffer, lse: DeviceBuffer, logits: DeviceBuffer, targets: DeviceBuffer, N: number, V: number): void {
    const k = 'crossEntropyForward';
    crossEntropyForward(this.ctx, this.f32(losses, k, 'losses'), this.f32(lse, k, 'lse'), this.f32(logits, k, 'logits'), this.i32(targets, k, 'targets'), N, V);
  }
  crossEntropyBackward(dlogits: DeviceBuffer, logits: DeviceBuffer, lse: DeviceBuffer, targets: DeviceBuffer, N: number, V: number, gradScale: number): void {
    const k = 'crossEntropyBackward';
    crossEntropyBackward(this.ctx, this.f32(dlogits, k, 'dlogits'), this.f32(logits, k, 'logits'), this.f32(lse, k, 'lse'), this.i32(targets, k, 'targets'), N, V, gradScale);
  }

  // ---- Llama kernels ----
  rmsnormForward(out: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, N: number, C: number, eps: number): void {
    const k = 'rmsnormForward';
    rmsnormForward(this.ctx, this.f32(out, k, 'out'), this.f32(rstd, k, 'rstd'), this.f32(x, k, 'x'), this.f32(w, k, 'w'), N, C, eps);
  }
  rmsnormBackward(dx: DeviceBuffer, dw: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void {
    const k = 'rmsnormBackward';
    rmsnormBackward(this.ctx, this.f32(dx, k, 'dx'), this.f32(dw, k, 'dw'), this.f32(dout, k, 'dout'), this.f32(x, k, 'x'), this.f32(w, k, 'w'), this.f32(rstd, k, 'rstd'), N, C);
  }
  /** Computed on the host (WGSL's cos/sin are too coarse for large angles) and written in call order. */
  ropeTable(cs: DeviceBuffer, T: number, hs: number, theta: number): void {
    const b = this.f32(cs, 'ropeTable', 'cs');
    const values = Float32Array.from(ropeTableValues(T, hs, theta));
    this.within('ropeTable', 'cs', b, 0, values.length);
    if (values.length === 0) return;
    // Kernels recorded before must see the buffer's old contents: submit them first, as upload does.
    this.recorder.flush();
    this.device.queue.writeBuffer(b.gpu, 0, values.buffer, 0, values.byteLength);
  }
  ropeForward(out: DeviceBuffer, x: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const k = 'ropeForward';
    ropeForward(this.ctx, this.f32(out, k, 'out'), this.f32(x, k, 'x'), this.f32(cs, k, 'cs'), B, T, NH, hs);
  }
  ropeBackward(dx: DeviceBuffer, dout: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void {
    const k = 'ropeBackward';
    ropeBackward(this.ctx, this.f32(dx, k, 'dx'), this.f32(dout, k, 'dout'), this.f32(cs, k, 'cs'), B, T, NH, hs);
  }
  swigluForward(out: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, n: number): void {
    const k = 'swigluForward';
    swigluForward(this.ctx, this.f32(out, k, 'out'), this.f32(gate, k, 'gate'), this.f32(up, k, 'up'), n);
  }
  swigluBackward(dgate: DeviceBuffer, dup: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, dout: DeviceBuffer, n: number): void {
    const k = 'swigluBackward';
    swigluBackward(this.ctx, this.f32(dgate, k, 'dgate'), this.f32(dup, k, 'dup'), this.f32(gate, k, 'gate'), this.f32(up, k, 'up'), this.f32(dout, k, 'dout'), n);
  }

  // ---- optimizers ----
  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, n: number, h: AdamWParams): void {
    adamw(this.ctx, this.f32(param, 'adamw', 'param'), this.f32(grad, 'adamw', 'grad'), this.f32(m, 'adamw', 'm'), this.f32(v, 'adamw', 'v'), n, h);
  }
  sgd(param: DeviceBuffer, grad: DeviceBuffer, momentumBuf: DeviceBuffer | null, n: number, h: SgdParams): void {
    sgd(this.ctx, this.f32(param, 'sgd', 'param'), this.f32(grad, 'sgd', 'grad'), momentumBuf && this.f32(momentumBuf, 'sgd', 'momentumBuf'), n, h);
  }

  // ---- helpers ----
  private gemmBatchedAt(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, strideA: number, B: DeviceBuffer, ldb: number, strideB: number,
    beta: number, C: DeviceBuffer, ldc: number, strideC: number, offA: number, offB: number, offC: number, kernel: string,
  ): void {
    const dims = { batch, M, N, K, lda, ldb, ldc, strideA, strideB, strideC, offA, offB, offC };
    for (const [name, v] of Object.entries(dims)) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`${kernel}: ${name} must be a non-negative integer, got ${v}`);
    }
    const a = this.f32(A, kernel, 'A'), b = this.f32(B, kernel, 'B'), c = this.f32(C, kernel, 'C');
    gemm(this.ctx, { transA, transB, M, N, K, alpha, beta, lda, ldb, ldc, offA, offB, offC, batch, strideA, strideB, strideC }, a, b, c, (bytes) => this.scratch(bytes));
  }

  /**
   * An internal buffer (split-K partials, reduction partials, same-buffer copies), in the budget like any other
   * (device-bytes.ts tells the partitioner its size); released right after recording.
   */
  private scratch(bytes: number): { buf: GpuBuffer; gpu: GPUBuffer; release(): void } {
    const { buffer, capacity } = this.acquireReserved(bytes, 'scratch');
    const buf = new GpuBuffer(0, 'f32', Math.floor(capacity / 4), buffer, capacity, this);
    return {
      buf,
      gpu: buffer,
      release: () => {
        this.pool.release(buffer, capacity);
        this.mem.release(capacity);
      },
    };
  }

  /**
   * A pooled buffer with its device bytes reserved in the budget first; the reservation is given back if the buffer
   * cannot be created (createBuffer throws on an out-of-memory device), so a failed allocation leaks no budget.
   */
  private acquireReserved(bytes: number, label: string): { buffer: GPUBuffer; capacity: number } {
    const reserved = this.deviceBytes.of(bytes);
    this.mem.reserve(reserved);
    try {
      return this.pool.acquire(bytes, label);
    } catch (e) {
      this.mem.release(reserved);
      throw e;
    }
  }

  private throwDeviceErrors(): void {
    if (this.errors.length === 0) return;
    const all = this.errors.splice(0);
    throw new Error(`${this.name}: device error: ${all[0]}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`);
  }

  private alive(what: string): void {
    if (this.disposed) throw new Error(`${this.name}: ${what} after dispose()`);
  }

  private buf(x: DeviceBuffer, kernel: string, arg: string): GpuBuffer {
    this.alive(kernel);
    if (!(x instanceof GpuBuffer) || x.owner !== this) throw new Error(`${kernel}: '${arg}' is not a buffer of this backend (id ${x?.id})`);
    if (x.freed) throw new Error(`${kernel}: '${arg}' is a freed buffer (id ${x.id})`);
    return x;
  }
  private f32(x: DeviceBuffer, kernel: string, arg: string): GpuBuffer {
    const b = this.buf(x, kernel, arg);
    if (b.dtype !== 'f32') throw new TypeError(`${kernel}: '${arg}' must be an f32 buffer, got ${b.dtype}`);
    return b;
  }
  private i32(x: DeviceBuffer, kernel: string, arg: string): GpuBuffer {
    const b = this.buf(x, kernel, arg);
    if (b.dtype !== 'i32') throw new TypeError(`${kernel}: '${arg}' must be an i32 buffer, got ${b.dtype}`);
    return b;
  }
  private within(kernel: string, arg: string, b: GpuBuffer, offset: number, n: number): void {
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(n) || n < 0 || offset + n > b.length) {
      throw new RangeError(`${kernel}: ${n} elements at offset ${offset} exceed '${arg}' (${b.length} elements)`);
    }
  }
}

/**
 * Default budget: 90% of the largest device-local heap when the adapter reports heaps; half the host memory for a
 * software rasteriser (its device memory is host memory); otherwise a conservative 2 GiB — WebGPU does not say how
 * much memory a GPU has, so set the budget (--device-memory) to use more.
 */
function defaultBudget(opened: OpenedDevice): number {
  if (opened.heapBytes) return Math.floor(opened.heapBytes * 0.9);
  if (opened.software) return Math.floor(totalmem() / 2);
  return 2 * 2 ** 30;
}
