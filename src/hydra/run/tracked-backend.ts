/**
 * A view of a backend that remembers the buffers allocated through it and not yet freed, so a task that fails
 * half-way can give back every device byte it held — the next task on that device must not inherit a leak.
 */
import type { Backend, DeviceBuffer } from '../../backend/backend.js';

export interface TrackedBackend {
  be: Backend;
  /** Free everything still live; returns how many buffers that was. */
  freeLive(): number;
  /** The buffers changed owner (e.g. went to the shard cache): a failure must not free them. */
  disown(buffers: Iterable<DeviceBuffer>): void;
}

/** `adopted`: buffers allocated elsewhere (e.g. by a prefetch) that the tracked work now owns. */
export function trackAllocations(inner: Backend, adopted: Iterable<DeviceBuffer> = []): TrackedBackend {
  const live = new Set<DeviceBuffer>(adopted);
  const be = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'alloc') {
        return (...args: Parameters<Backend['alloc']>) => {
          const b = target.alloc(...args);
          live.add(b);
          return b;
        };
      }
      if (prop === 'free') {
        return (b: DeviceBuffer) => {
          live.delete(b);
          target.free(b);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    be,
    freeLive() {
      const n = live.size;
      for (const b of live) inner.free(b);
      live.clear();
      return n;
    },
    disown(buffers) {
      for (const b of buffers) live.delete(b);
    },
  };
}
