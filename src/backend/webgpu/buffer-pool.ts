/**
 * Device buffers: the DeviceBuffer handed to callers, and a pool of GPUBuffers by size class.
 *
 * Freed buffers go back to the pool and are reused by later allocations of the same class, never left to the
 * garbage collector (spilling needs predictable memory). Reusing a buffer right away is safe: WebGPU runs queue
 * operations in order, so new writes land after the old reads. A buffer is *destroyed* (pool trimming, dispose) only
 * once the work submitted before its release has completed — `retire` holds it until the recorder says so.
 *
 * Budget accounting (MemoryAccountant, in the backend) counts the bytes callers asked for, like every backend, so
 * plans agree across backends; the pool counts physical bytes (class sizes) to bound what it keeps.
 */
/// <reference types="@webgpu/types" />
import type { DeviceBuffer, DType } from '../backend.js';

export class GpuBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly id: number,
    readonly dtype: DType,
    readonly length: number,
    readonly gpu: GPUBuffer,
    /** Physical size in bytes (the size class). */
    readonly capacity: number,
    readonly owner: object,
  ) {}
  get bytes(): number {
    return this.length * 4;
  }
}

/**
 * Size classes: multiples of 256 bytes, at most 25% above the request (2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k), so one
 * class serves nearby sizes (batches of different lengths) without wasting much.
 */
export function sizeClass(bytes: number, maxBufferSize: number): number {
  if (bytes <= 256) return 256;
  const base = 2 ** Math.floor(Math.log2(bytes - 1));
  let cls = base * 2;
  for (let q = 1; q <= 4; q++) {
    const c = base + (base * q) / 4;
    if (c >= bytes) {
      cls = c;
      break;
    }
  }
  cls = Math.ceil(cls / 256) * 256;
  return cls > maxBufferSize ? Math.ceil(bytes / 4) * 4 : cls;
}

interface Retired {
  buffer: GPUBuffer;
  /** Destroy once the recorder's completed serial reaches this. */
  serial: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  private retired: Retired[] = [];
  /** Physical bytes of buffers handed out and not yet released. */
  private liveBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly maxBufferSize: number,
    /** Most bytes kept in free lists. */
    private readonly poolCap: number,
    /** Serial of the batch being recorded: work recorded so far completes when this serial completes. */
    private readonly pendingSerial: () => number,
  ) {}

  /** A buffer of class sizeClass(bytes); its size is returned with it. */
  acquire(bytes: number, label: string): { buffer: GPUBuffer; capacity: number } {
    const capacity = sizeClass(bytes, this.maxBufferSize);
    const list = this.free.get(capacity);
    let buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= capacity;
    } else {
      buffer = this.device.createBuffer({ size: capacity, usage: this.usage, label });
    }
    this.liveBytes += capacity;
    return { buffer, capacity };
  }

  /** Back to the free list (or retired when the pool is over its cap). */
  release(buffer: GPUBuffer, capacity: number): void {
    this.liveBytes -= capacity;
    let list = this.free.get(capacity);
    if (!list) this.free.set(capacity, (list = []));
    list.push(buffer);
    this.pooledBytes += capacity;
    this.trim(this.poolCap);
  }

  /** Retire pooled buffers until at most `keepBytes` stay pooled (largest classes first: fewer, bigger frees). */
  trim(keepBytes: number): void {
    if (this.pooledBytes <= keepBytes) return;
    const classes = [...this.free.keys()].sort((a, b) => b - a);
    for (const cls of classes) {
      const list = this.free.get(cls)!;
      while (list.length && this.pooledBytes > keepBytes) {
        this.retired.push({ buffer: list.pop()!, serial: this.pendingSerial() });
        this.pooledBytes -= cls;
      }
    }
  }

  /** Destroys retired buffers whose last use has completed. */
  completed(serial: number): void {
    if (!this.retired.length) return;
    const keep: Retired[] = [];
    for (const r of this.retired) {
      if (r.serial <= serial) r.buffer.destroy();
      else keep.push(r);
    }
    this.retired = keep;
  }

  stats(): { liveBytes: number; pooledBytes: number; retired: number } {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, retired: this.retired.length };
  }

  /** Destroys everything (the device is going away; Dawn defers the actual release past in-flight work). */
  destroyAll(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    for (const r of this.retired) r.buffer.destroy();
    this.free.clear();
    this.retired = [];
    this.pooledBytes = 0;
  }
}
