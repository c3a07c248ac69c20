/**
 * Where a shard's disk-resident parameters sit inside a host staging slot while the shard's task runs: the values of
 * its disk parameters one after another (canonical order), then their gradients. The orchestrator and every device
 * worker derive the same layout from the same runtime and the same set of disk parameters, so only a slot number
 * crosses threads.
 */
import type { ModelRuntime } from '../run/model-runtime.js';

/** Offsets in elements. */
export type StagingLayout = Map<string, { shard: number; value: number; grad: number; n: number }>;

export function stagingLayout(rt: ModelRuntime, diskParams: Set<string>): StagingLayout {
  const out: StagingLayout = new Map();
  rt.shardParams.forEach((ps, k) => {
    const mine = ps.filter((p) => diskParams.has(p.spec.name));
    for (const p of mine) if (p.shards.length !== 1) throw new Error(`parameter '${p.spec.name}' is used by shards ${p.shards.join(', ')}: only a one-shard parameter can live on disk`);
    const total = mine.reduce((a, p) => a + p.n, 0);
    let at = 0;
    for (const p of mine) {
      out.set(p.spec.name, { shard: k, value: at, grad: total + at, n: p.n });
      at += p.n;
    }
  });
  return out;
}

/** What a staging slot holds and who uses it. */
interface SlotState {
  /** The model (its disk state) whose shard the slot holds, or null. */
  owner: object | null;
  shard: number | null;
  /** The slot holds the shard's current values once this resolves true. */
  ready: Promise<boolean> | null;
  /** A task, a step or a prefetch is using it. */
  busy: boolean;
  lastUse: number;
  /** The owner's generation its values were read at: a step of every parameter (clipping) makes older ones stale. */
  gen: number;
}

/**
 * The job's staging slots, shared by every model with shards on disk. A slot is claimed by a task (until its shard's
 * gradients are written or stepped), a prefetch (until its read lands) or an initialisation; a claim waits while
 * every slot is busy. Every holder gives its slot back without needing another, so waiting never deadlocks: the pool
 * bounds how much is staged at once, not whether the job runs. A free slot keeps what it holds (a later task of the
 * same shard finds it) until it is claimed again, least recently used first.
 */
export class StagingPool {
  private readonly meta: SlotState[];
  private readonly waiters: (() => void)[] = [];
  private clock = 0;

  constructor(readonly buffers: SharedArrayBuffer[]) {
    this.meta = buffers.map(() => ({ owner: null, shard: null, ready: null, busy: false, lastUse: 0, gen: -1 }));
  }

  get slotBytes(): number {
    return this.buffers[0]?.byteLength ?? 0;
  }

  slot(i: number): SlotState {
    return this.meta[i];
  }

  /** The slot holding `owner`'s `shard` read at generation `gen`, or -1. */
  find(owner: object, shard: number, gen: number): number {
    return this.meta.findIndex((s) => s.owner === owner && s.shard === shard && s.gen === gen);
  }

  /** The least recently used free slot, or -1. */
  free(): number {
    let best = -1;
    this.meta.forEach((s, i) => {
      if (!s.busy && (best < 0 || s.lastUse < this.meta[best].lastUse)) best = i;
    });
    return best;
  }

  /** A free slot, claimed for `owner` and emptied (waits for one when all are in use). */
  async claim(owner: object): Promise<number> {
    for (;;) {
      const i = this.free();
      if (i >= 0) {
        Object.assign(this.meta[i], { owner, busy: true, shard: null, ready: null });
        return i;
      }
      await this.changed();
    }
  }

  /** Mark slot i used now (it is evicted last). */
  touch(i: number): void {
    this.meta[i].lastUse = ++this.clock;
  }

  /** `owner` gives a slot back; it keeps its shard's values (`keep`) or none. A slot no longer its own is left alone. */
  release(i: number, owner: object, keep: boolean): void {
    const s = this.meta[i];
    if (s.owner !== owner) return;
    s.busy = false;
    if (!keep) Object.assign(s, { owner: null, shard: null, ready: null });
    for (const w of this.waiters.splice(0)) w();
  }

  /** A model is gone (its reads into slots have landed): every slot it held is free and empty. */
  releaseOwner(owner: object): void {
    this.meta.forEach((_, i) => this.release(i, owner, false));
  }

  /** The reads into slots `owner` holds that are still in flight. */
  reading(owner: object): Promise<unknown>[] {
    return this.meta.filter((s) => s.owner === owner && s.ready).map((s) => s.ready!);
  }

  /** Resolves at the next release. */
  changed(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }
}
