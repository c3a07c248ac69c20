/**
 * A backend that only keeps accounts: allocations and frees are counted exactly as a real backend counts them, and
 * every kernel is a no-op. Running the real shard executor against it gives the exact peak device bytes of a task
 * without computing anything, so the partitioner's plan and the run-time allocator cannot disagree.
 */
import type { Backend, DeviceBuffer, DeviceBytes, DType } from '../../backend/backend.js';
import { MemoryAccountant } from '../../backend/memory.js';

export interface Accounting {
  be: Backend;
  /** Largest single allocation seen (bytes), to check against a backend's per-buffer limit. */
  largestAlloc(): number;
}

/**
 * `hostUpdates`: whether the real backend steps parameters in the host tier (adamwHost/sgdHost: cpu, js) or streams
 * them through device memory (webgpu) — the executor allocates differently, so the accounts must follow the same path.
 * `deviceBytes`: the real backend's rounding and kernel scratch (webgpu), counted as it counts them.
 */
export function accountingBackend(hostUpdates: boolean, deviceBytes?: DeviceBytes): Accounting {
  const of = deviceBytes ? (bytes: number) => deviceBytes.of(bytes) : (bytes: number) => bytes;
  const mem = new MemoryAccountant(Infinity, 'accounting');
  let nextId = 1;
  let largest = 0;
  const core: Partial<Backend> = {
    name: 'accounting',
    kind: 'js',
    threads: 1,
    maxBufferBytes: Infinity,
    deviceBytes,
    alloc(length: number, dtype: DType = 'f32'): DeviceBuffer {
      mem.reserve(of(length * 4));
      largest = Math.max(largest, length * 4);
      return { id: nextId++, dtype, length, bytes: length * 4 };
    },
    free(b: DeviceBuffer) {
      mem.release(of(b.bytes));
    },
    stats: () => mem.stats(),
    resetHighWater: () => mem.resetHighWater(),
    setBudget: (b: number) => mem.setBudget(b),
    upload: async () => {},
    download: (async (buf: DeviceBuffer, dst?: Float32Array | Int32Array, _off?: number, length?: number) =>
      dst ?? (buf.dtype === 'i32' ? new Int32Array(length ?? buf.length) : new Float32Array(length ?? buf.length))) as Backend['download'],
    sync: async () => {},
    dispose: () => {},
  };
  const be = new Proxy(core, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if ((prop === 'adamwHost' || prop === 'sgdHost') && !hostUpdates) return undefined;
      // Optional capabilities that change what the executor allocates must be declared above, not defaulted here.
      if (prop === 'uploadTimed') return undefined;
      if (!deviceBytes) return () => {}; // every kernel
      // A kernel holds its scratch buffers only while it is recorded: each counts at the peak, then is given back.
      return (...args: unknown[]) => {
        for (const bytes of deviceBytes.scratch(String(prop), args)) {
          mem.reserve(bytes);
          mem.release(bytes);
        }
      };
    },
  }) as Backend;
  return { be, largestAlloc: () => largest };
}
