/**
 * The device shard cache: after a task, a shard's parameter values may stay on the device, so that the next task of
 * the same shard there (B k after F k, the next evaluation batch, a model a device runs again) copies nothing in.
 * Modelled on tinygrad's LRU allocator: the cache only ever holds memory nobody else asked for; an allocation that
 * does not fit first evicts the least-recently-used entry and retries (`evictingBackend`), so a task and its prefetch
 * see exactly the room the partitioner planned for, and the allocator's budget bounds the high-water mark as before.
 *
 * The host tier stays authoritative: an entry is a copy taken at a parameter VERSION (how many times the shard's
 * parameters had been stepped), and it is handed to a task only if that version is still current — a step that
 * landed since (on any device) makes it stale, and it is freed instead of used.
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
}

interface Entry extends ResidentShard {
  buffers: Map<string, DeviceBuffer>;
  bytes: number;
}

const keyOf = (modelId: string, shard: number) => `${shard}\u0000${modelId}`;

export class ShardCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  readonly totals: CacheTotals = { hits: 0, hitBytes: 0, stale: 0, evictions: 0 };

  /** `be`: the raw backend (frees must not recurse into eviction). */
  constructor(private readonly be: Backend) {}

  /**
   * The shard's resident parameter values if they are at `version` (the caller owns them from now on), else null;
   * a stale copy is freed.
   */
  take(modelId: string, shard: number, version: number): Map<string, DeviceBuffer> | null {
    const key = keyOf(modelId, shard);
    const e = this.entries.get(key);
    if (!e) return null;
    this.entries.delete(key);
    if (e.version !== version) {
      this.totals.stale++;
      this.free(e);
      return null;
    }
    this.totals.hits++;
    this.totals.hitBytes += e.bytes;
    return e.buffers;
  }

  /** Whether the shard is resident at `version` (no recency change). */
  has(modelId: string, shard: number, version: number): boolean {
    return this.entries.get(keyOf(modelId, shard))?.version === version;
  }

  /** Keep a task's parameter values (the cache owns them now) as the most recently used entry. */
  put(modelId: string, shard: number, version: number, buffers: Map<string, DeviceBuffer>): void {
    const key = keyOf(modelId, shard);
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.free(old);
    }
    let bytes = 0;
    for (const b of buffers.values()) bytes += b.bytes;
    this.entries.set(key, { modelId, shard, version, buffers, bytes });
  }

  /** Free the model's entries that hold any of `stepped` (their values just changed on the host). */
  invalidate(modelId: string, stepped: ReadonlySet<string>): void {
    if (stepped.size === 0) return;
    for (const [key, e] of this.entries) {
      if (e.modelId !== modelId) continue;
      for (const name of e.buffers.keys()) {
        if (stepped.has(name)) {
          this.entries.delete(key);
          this.free(e);
          break;
        }
      }
    }
  }

  /** Forget a model (it ended). */
  drop(modelId: string): void {
    for (const [key, e] of this.entries) {
      if (e.modelId === modelId) {
        this.entries.delete(key);
        this.free(e);
      }
    }
  }

  /** Free the least recently used entry; false if the cache is empty. */
  evictOne(): boolean {
    const first = this.entries.entries().next();
    if (first.done) return false;
    const [key, e] = first.value;
    this.entries.delete(key);
    this.totals.evictions++;
    this.free(e);
    return true;
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
  }
}

/**
 * A view of `inner` whose allocations make room by evicting the cache's least recently used entries (free and
 * retry); an allocation fails only when the cache is empty and it still does not fit — exactly when it would have
 * failed without a cache.
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
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'alloc') return alloc;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
