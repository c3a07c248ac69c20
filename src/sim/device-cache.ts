/**
 * The simulator's device memory, as the executor manages it (src/hydra/run/shard-cache.ts): shard parameter copies
 * that stay after their task, each at the parameter version it was copied at, evicted least recently used when the
 * running task's peak or a prefetch needs the room; and at most one prefetch in flight.
 */
import type { SimModel } from './types.js';
import type { TaskRef } from '../hydra/scheduler/types.js';

export const shardKey = (model: number, shard: number) => model * 4096 + shard;

export interface SimPrefetch {
  key: number;
  version: number;
  bytes: number;
  readyAt: number;
}

export class SimDeviceCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<number, { version: number; bytes: number }>();
  private held = 0;
  prefetched: SimPrefetch | null = null;
  /** The running task's shard, which the device keeps after the task (at this version), if it does. */
  keeping: { key: number; version: number } | null = null;
  evictions = 0;

  /** Whether the shard is resident and current, kept by the running task, or being prefetched at its current version. */
  local(key: number, version: number): boolean {
    const at = (x: { key: number; version: number } | null) => x !== null && x.key === key && x.version === version;
    return this.entries.get(key)?.version === version || at(this.prefetched) || at(this.keeping);
  }

  /** Take the shard's resident copy for a task if it is current (true); a stale one is dropped. */
  take(key: number, version: number): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    this.entries.delete(key);
    this.held -= e.bytes;
    return e.version === version;
  }

  put(key: number, version: number, bytes: number): void {
    this.take(key, NaN);
    this.entries.set(key, { version, bytes });
    this.held += bytes;
  }

  /** Drop the copies of these shards (their values changed on the host). */
  invalidate(keys: readonly number[]): void {
    for (const k of keys) this.take(k, NaN);
  }

  /** Evict least recently used copies until `needed` bytes fit beside them in `memory`. */
  makeRoom(needed: number, memory: number): void {
    for (const [key, e] of this.entries) {
      if (this.held + needed <= memory) return;
      this.entries.delete(key);
      this.held -= e.bytes;
      this.evictions++;
    }
  }
}

/** The shards whose parameters a task steps (the executor's rule: prefetch-safety.ts). */
export function steppedShards(m: SimModel, t: Pick<TaskRef, 'kind' | 'shard'>): number[] {
  if (t.kind !== 'B' && t.kind !== 'FL') return [];
  if (m.clipping) return t.shard === 0 ? m.shards.map((_, k) => k) : [];
  return [t.shard];
}

/** A shard may be prefetched unless the model's task in flight steps it (the executor's rule). */
export function prefetchIsSafe(m: SimModel, inFlight: Pick<TaskRef, 'kind' | 'shard'> | null, shard: number): boolean {
  return !inFlight || !steppedShards(m, inFlight).includes(shard);
}
