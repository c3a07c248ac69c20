/**
 * The device shard cache: after a task, a shard's parameter values may stay on the device, so that the next task of
 * the same shard there (B k after F k, the next evaluation batch, a model a device runs again) copies nothing in.
 * Modelled on tinygrad's LRU allocator: the cache only ever holds memory nobody else asked for; an allocation that
 * does not fit first evicts the least-recently-used entry and retries (`evictingBackend`), so a task and its prefetch
 * see exactly the room the partitioner planned for, and the allocator's budget bounds the high-water mark as before.
 *
 * An entry is a copy taken at a parameter VERSION (how many times the shard's parameters had been stepped), and it is
 * handed to a task only if that version is still current — a step that landed since (on any device) makes it stale,
 * and it is freed instead of used. A clean entry equals the host tier's copy. A DIRTY entry (device-state.ts) also
 * holds the shard's optimizer state and was stepped on this device: it is the only current copy, the host tier's is
 * stale until it is written back. Dirty entries are never evicted by an allocation (a write-back needs a device
 * read, which an allocation cannot wait for); the worker writes them back before a task that needs their room.
 */
import { DeviceOutOfMemoryError, type Backend, type DeviceBuffer } from '../../backend/backend.js';

export interface ResidentShard {
  modelId: string;
  shard: number;
  /** The parameter version the copy holds. */
  version: number;
}

export interface CacheTotals {
  /** Tasks whose shard parameters were resident and current: nothing copied in. */
  hits: number;
  /** Bytes those hits did not copy. */
  hitBytes: number;
  /** Resident copies found stale (a step landed since) and freed. */
  stale: number;
  /** Entries freed to make room (least recently used first). */
  evictions: number;
  /** Tasks that copied their shard in although this device had held it at that version until an eviction. */
  evictedBeforeUse: number;
  /** Optimizer steps taken on the device, against resident state (device-state.ts). */
  deviceSteps: number;
  /** Dirty entries written back to the host tier, and the bytes that took (parameters and optimizer state). */
  writeBacks: number;
  writeBackBytes: number;
}

export const emptyCacheTotals = (): CacheTotals => ({ hits: 0, hitBytes: 0, stale: 0, evictions: 0, evictedBeforeUse: 0, deviceSteps: 0, writeBacks: 0, writeBackBytes: 0 });

/** A shard's optimizer state on the device: per parameter name, its state tensors in stateNames order. */
export type DeviceOptState = Map<string, DeviceBuffer[]>;

/** What a task takes from the cache: the parameter values, and the optimizer state when the entry was dirty. */
export interface Taken {
  values: Map<string, DeviceBuffer>;
  state: DeviceOptState | null;
}

export interface Entry extends ResidentShard {
  buffers: Map<string, DeviceBuffer>;
  /** Present only on a dirty entry: the optimizer state stepped with the values. */
  state: DeviceOptState | null;
  bytes: number;
}

export const keyOf = (modelId: string, shard: number) => `${shard}\u0000${modelId}`;

export class ShardCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  /** Per evicted shard, the version it was evicted at (until it is put back): to count evictions before use. */
  private readonly evicted = new Map<string, number>();
  readonly totals: CacheTotals = emptyCacheTotals();

  /** `be`: the raw backend (frees must not recurse into eviction). */
  constructor(private readonly be: Backend) {}

  /**
   * The shard's resident parameter values (and state, if dirty) if they are at `version` (the caller owns them from
   * now on), else null; a stale copy is freed. A dirty entry is the only current copy: finding it at another version
   * means a step was taken from the host tier's stale copy, which must never happen.
   */
  take(modelId: string, shard: number, version: number): Taken | null {
    const key = keyOf(modelId, shard);
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.version !== version) {
      if (e.state) throw new Error(`shard ${shard} of '${modelId}': its device-resident state is at version ${e.version} but the task expects ${version} (write-back bookkeeping bug)`);
      this.entries.delete(key);
      this.totals.stale++;
      this.free(e);
      return null;
    }
    this.entries.delete(key);
    this.totals.hits++;
    this.totals.hitBytes += e.bytes;
    return { values: e.buffers, state: e.state };
  }

  /**
   * A task copies the shard in (no resident copy, no prefetch): counted as an eviction before use when this cache held
   * it at that version and evicted it.
   */
  copiedIn(modelId: string, shard: number, version: number): void {
    const key = keyOf(modelId, shard);
    if (this.evicted.get(key) === version) this.totals.evictedBeforeUse++;
    this.evicted.delete(key);
  }

  /** Whether the shard is resident at `version` (no recency change). */
  has(modelId: string, shard: number, version: number): boolean {
    return this.entries.get(keyOf(modelId, shard))?.version === version;
  }

  /**
   * Keep a task's parameter values (the cache owns them now) as the most recently used entry; with `state`, as a
   * dirty entry (the values and state were stepped here; the host tier's copy is stale).
   */
  put(modelId: string, shard: number, version: number, buffers: Map<string, DeviceBuffer>, state: DeviceOptState | null = null): void {
    const key = keyOf(modelId, shard);
    this.evicted.delete(key);
    const old = this.entries.get(key);
    if (old) {
      if (old.state) throw new Error(`shard ${shard} of '${modelId}': replacing device-resident state that was not written back (bookkeeping bug)`);
      this.entries.delete(key);
      this.free(old);
    }
    let bytes = 0;
    for (const b of buffers.values()) bytes += b.bytes;
    if (state) for (const s of state.values()) for (const b of s) bytes += b.bytes;
    this.entries.set(key, { modelId, shard, version, buffers, state, bytes });
  }

  /** Dirty entries, least recently used first. */
  dirty(modelId?: string, shard?: number): Entry[] {
    return [...this.entries.values()].filter((e) => e.state && (modelId === undefined || e.modelId === modelId) && (shard === undefined || e.shard === shard));
  }

  /** A dirty entry was written back: free its state; its values stay as a clean entry (they equal the host's now). */
  markClean(e: Entry): void {
    if (!e.state) return;
    for (const s of e.state.values()) for (const b of s) {
      e.bytes -= b.bytes;
      this.be.free(b);
    }
    e.state = null;
  }

  /** Free the model's clean entries that hold any of `stepped` (their values just changed on the host). */
  invalidate(modelId: string, stepped: ReadonlySet<string>): void {
    if (stepped.size === 0) return;
    for (const [key, e] of this.entries) {
      if (e.modelId !== modelId || e.state) continue;
      for (const name of e.buffers.keys()) {
        if (stepped.has(name)) {
          this.entries.delete(key);
          this.free(e);
          break;
        }
      }
    }
  }

  /** Forget a model (it ended, or its task failed: state not written back is lost with it). */
  drop(modelId: string): void {
    for (const key of this.evicted.keys()) if (key.endsWith(`\u0000${modelId}`)) this.evicted.delete(key);
    for (const [key, e] of this.entries) {
      if (e.modelId === modelId) {
        this.entries.delete(key);
        this.free(e);
      }
    }
  }

  /** Free the least recently used clean entry; false if there is none. */
  evictOne(): boolean {
    for (const [key, e] of this.entries) {
      if (e.state) continue;
      this.entries.delete(key);
      this.totals.evictions++;
      this.evicted.set(key, e.version);
      this.free(e);
      return true;
    }
    return false;
  }

  clear(): void {
    for (const e of this.entries.values()) this.free(e);
    this.entries.clear();
  }

  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  /** What is resident, least recently used first (what the scheduler is told). */
  resident(): ResidentShard[] {
    return [...this.entries.values()].map(({ modelId, shard, version }) => ({ modelId, shard, version }));
  }

  private free(e: Entry): void {
    for (const b of e.buffers.values()) this.be.free(b);
    e.buffers.clear();
    this.markClean(e);
  }
}

/**
 * A view of `inner` whose allocations make room by evicting the cache's least recently used entries (free and
 * retry); an allocation fails only when no clean entry is left and it still does not fit — exactly when it would
 * have failed without a cache, given that the worker keeps dirty entries only where they fit beside the task. A
 * kernel that takes scratch memory inside the backend (webgpu: split-K gemm, sumSquares; Backend.deviceBytes says
 * how much) gets its room the same way, before it runs: the partitioner counted that scratch in the task's peak.
 */
export function evictingBackend(inner: Backend, cache: ShardCache): Backend {
  const alloc: Backend['alloc'] = (...args) => {
    for (;;) {
      try {
        return inner.alloc(...args);
      } catch (e) {
        if (!(e instanceof DeviceOutOfMemoryError) || !cache.evictOne()) throw e;
      }
    }
  };
  const roomFor = (bytes: number) => {
    for (let s = inner.stats(); s.inUse + bytes > s.budget && cache.evictOne(); s = inner.stats());
  };
  const { deviceBytes } = inner;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'alloc') return alloc;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(target);
      if (!deviceBytes) return f;
      return (...args: unknown[]) => {
        const scratch = deviceBytes.scratch(String(prop), args);
        if (scratch.length > 0) roomFor(Math.max(...scratch));
        return f(...args);
      };
    },
  });
}
