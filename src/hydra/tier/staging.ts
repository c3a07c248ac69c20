/**
 * Where a shard's disk-resident parameters sit inside a host staging slot while the shard's task runs: the values of
 * its disk parameters one after another (canonical order), then their gradients. The orchestrator and every device
 * worker derive the same layout from the same runtime and the same set of disk parameters, so only a slot number
 * crosses threads.
 *
 * With O_DIRECT (scratch-file.ts) an array moves straight between the disk and the slot only where its memory sits at
 * the same place in a 4 KiB block as its file offset, and every array starts at a block boundary of the file; any
 * other array goes through the addon's bounce buffer (a memcpy per byte on the pool threads). So an array of at least
 * ALIGNED_ARRAY_BYTES starts at a block boundary of the slot (the padding before it, under one block, is at most 1/16
 * of what it aligns), and the slot's arrays start at its buffer's first block-aligned byte (`base`, per buffer: where
 * the allocator put it). Smaller arrays are packed (a whole one is under 16 blocks: aligning it would cost more RAM
 * than its bounce costs time). A slot whose arrays span ALIGNED_ARRAY_BYTES or more (every slot holding an aligned
 * array) has one block more than they take, room for its base; a smaller one starts at byte 0 (the tiny models of the
 * tests pay no padding). `stagingSlotBytes` is the one size both the placement's accounts and the pool use.
 */
import type { ModelRuntime } from '../run/model-runtime.js';
import { ALIGN, alignPad } from './scratch-file.js';

/** Arrays of at least this many bytes start at a 4 KiB boundary of a staging slot. */
export const ALIGNED_ARRAY_BYTES = 16 * ALIGN;

/** Offsets in elements, from the slot's base. */
export type StagingLayout = Map<string, { shard: number; value: number; grad: number; n: number }>;

/** Element offsets of arrays of `ns` elements laid out in order, and the elements the layout spans. */
function packed(ns: number[]): { at: number[]; end: number } {
  const block = ALIGN / 4;
  let end = 0;
  const at = ns.map((n) => {
    if (n * 4 >= ALIGNED_ARRAY_BYTES) end = Math.ceil(end / block) * block;
    const o = end;
    end += n;
    return o;
  });
  return { at, end };
}

/** Bytes of a staging slot for a shard whose disk parameters have `ns` elements each (values and gradients, padded). */
export function stagingSlotBytes(ns: number[]): number {
  const bytes = packed([...ns, ...ns]).end * 4;
  return bytes >= ALIGNED_ARRAY_BYTES ? bytes + ALIGN : bytes;
}

/**
 * Bytes of one of a model's activation slots (disk-boundaries.ts) for boundaries of at most `largest` bytes: by the same
 * rule, one block more when a boundary that large is aligned (its content starts at the slot's base), so a boundary's
 * O_DIRECT write and read (at an aligned file offset) skip the bounce copy.
 */
export function actSlotBytes(largest: number): number {
  return largest >= ALIGNED_ARRAY_BYTES ? largest + ALIGN : largest;
}

/** Where a slot buffer's arrays start: its first block-aligned byte when it has room for that (stagingSlotBytes, actSlotBytes). */
export function slotBase(b: SharedArrayBuffer): number {
  return b.byteLength >= ALIGNED_ARRAY_BYTES + ALIGN ? alignPad(b) : 0;
}

export function stagingLayout(rt: ModelRuntime, diskParams: Set<string>): StagingLayout {
  const out: StagingLayout = new Map();
  rt.shardParams.forEach((ps, k) => {
    const mine = ps.filter((p) => diskParams.has(p.spec.name));
    for (const p of mine) if (p.shards.length !== 1) throw new Error(`parameter '${p.spec.name}' is used by shards ${p.shards.join(', ')}: only a one-shard parameter can live on disk`);
    const { at } = packed([...mine, ...mine].map((p) => p.n));
    mine.forEach((p, i) => out.set(p.spec.name, { shard: k, value: at[i], grad: at[mine.length + i], n: p.n }));
  });
  return out;
}

/** Slot buffers (the job's staging slots, a model's activation slots) and where each one's arrays start (bytes: slotBase). */
export interface StagingSlots {
  buffers: SharedArrayBuffer[];
  bases: number[];
}

/** Elements [at, at + n) from slot `i`'s base. */
export function slotArray(s: StagingSlots, i: number, at: number, n: number): Float32Array {
  return new Float32Array(s.buffers[i], s.bases[i] + at * 4, n);
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
  /**
   * It also holds its shard's gradients from the last backward that ran in it (until it is claimed or filled again):
   * the step of every parameter (clipping) takes them, and the values, from here instead of from disk.
   */
  grads: boolean;
}

/**
 * The job's staging slots, shared by every model with shards on disk. A slot is claimed by a task (until its shard's
 * gradients are written or stepped), a prefetch (until its read lands) or an initialisation; a claim waits while
 * every slot is busy. Every holder gives its slot back without needing another, so waiting never deadlocks: the pool
 * bounds how much is staged at once, not whether the job runs. A free slot keeps what it holds (a later task of the
 * same shard finds it) until it is claimed again, least recently used first.
 */
export class StagingPool implements StagingSlots {
  private readonly meta: SlotState[];
  readonly bases: number[];
  private readonly waiters: (() => void)[] = [];
  private clock = 0;

  constructor(readonly buffers: SharedArrayBuffer[]) {
    this.meta = buffers.map(() => ({ owner: null, shard: null, ready: null, busy: false, lastUse: 0, gen: -1, grads: false }));
    this.bases = buffers.map(slotBase);
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
        Object.assign(this.meta[i], { owner, busy: true, shard: null, ready: null, grads: false });
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
    if (!keep) Object.assign(s, { owner: null, shard: null, ready: null, grads: false });
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
