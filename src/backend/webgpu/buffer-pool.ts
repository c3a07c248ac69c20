/**
 * Device buffers: the DeviceBuffer handed to callers, and a pool of GPUBuffers by size class.
 *
 * Freed buffers go back to the pool and are reused by later allocations of the same class, never left to the
 * garbage collector (spilling needs predictable memory). Reusing a buffer right away is safe: WebGPU runs queue
 * operations in order, so new writes land after the old reads.
 *
 * The budget means device bytes: the backend's accountant counts each buffer at its class size (scratch buffers
 * too), and the pool keeps live + pooled bytes within the budget — it destroys pooled buffers before creating a new
 * one that would not fit beside them, and keeps at most its cap pooled.
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

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  /** Physical bytes of buffers handed out and not yet released. */
  private liveBytes = 0;
  /** Most live + pooled bytes since creation or the last resetHighWater(). */
  private heldHighWater = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly maxBufferSize: number,
    /** Most bytes kept in free lists. */
    private readonly poolCap: number,
    /** The device budget: live and pooled bytes together never exceed it. */
    private readonly budget: () => number,
    /** Submit the work recorded so far (a buffer it uses may be destroyed only once it is submitted). */
    private readonly submitPending: () => void,
  ) {}

  /**
   * A buffer of class sizeClass(bytes); its size is returned with it. The caller has reserved `capacity` in the
   * budget, so live bytes fit; pooled buffers are destroyed first when a new buffer would not fit beside them.
   */
  acquire(bytes: number, label: string): { buffer: GPUBuffer; capacity: number } {
    const capacity = sizeClass(bytes, this.maxBufferSize);
    const list = this.free.get(capacity);
    let buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= capacity;
    } else {
      this.trim(this.budget() - this.liveBytes - capacity);
      buffer = this.device.createBuffer({ size: capacity, usage: this.usage, label });
    }
    this.liveBytes += capacity;
    this.heldHighWater = Math.max(this.heldHighWater, this.liveBytes + this.pooledBytes);
    return { buffer, capacity };
  }

  /** Back to the free list (destroyed instead when the pool is over its cap). */
  release(buffer: GPUBuffer, capacity: number): void {
    this.liveBytes -= capacity;
    let list = this.free.get(capacity);
    if (!list) this.free.set(capacity, (list = []));
    list.push(buffer);
    this.pooledBytes += capacity;
    this.trim(this.poolCap);
  }

  /**
   * Destroy pooled buffers until at most `keepBytes` stay pooled (largest classes first: fewer, bigger frees). The
   * work recorded so far is submitted first: WebGPU lets a buffer be destroyed while submitted work still uses it
   * (that work completes normally), never while unsubmitted commands refer to it.
   */
  trim(keepBytes: number): void {
    if (this.pooledBytes <= keepBytes) return;
    this.submitPending();
    const classes = [...this.free.keys()].sort((a, b) => b - a);
    for (const cls of classes) {
      const list = this.free.get(cls)!;
      while (list.length && this.pooledBytes > keepBytes) {
        list.pop()!.destroy();
        this.pooledBytes -= cls;
      }
    }
  }

  stats(): { liveBytes: number; pooledBytes: number; heldHighWater: number } {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, heldHighWater: this.heldHighWater };
  }

  resetHighWater(): void {
    this.heldHighWater = this.liveBytes + this.pooledBytes;
  }

  /** Destroys everything (the device is going away; Dawn defers the actual release past in-flight work). */
  destroyAll(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }
}
