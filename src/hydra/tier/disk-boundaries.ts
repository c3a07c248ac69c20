/**
 * A model's boundary activations on disk: the boundaries the placement put there (a top run, placement.ts) live in
 * its scratch file and pass through ACT_SLOTS host slots of the model's own (it has at most one task in flight).
 *
 * Per task (the orchestrator calls `before` with the task, `after` once it ran):
 *   - its input activation (shard k reads act(k)) is found in a slot still holding its current content, or read from
 *     disk into one (after its own write has landed);
 *   - its output (F and E of shard k write act(k + 1)) gets the other slot, once that slot's write has landed;
 *   - after a forward, the output is written to disk in the background (write-through), except for the two highest
 *     boundaries: the forward's last outputs stay in the two slots until the backward reads them (F(last-1), FL,
 *     B(last-1) come one after another), so they are never written. An evaluation's outputs are read only by the next
 *     evaluation task: never written either;
 *   - a backward (B, FL) reads act(k) for the last time in its step; while it runs, the next backward's input
 *     (act(k - 1)) is read ahead into the other slot — unless read-ahead is off (the job's `prefetch: false`): then
 *     each input is read when its task comes.
 * A slot whose content is still needed and not on disk is written before it is reused (never in the order above:
 * a safety net), and a read of content that is neither in a slot nor on disk is a bookkeeping error, said so.
 * A failed read or write fails the task that waits for it (and so the model), naming the file and the error.
 */
import type { IoCount } from './disk-step.js';
import type { ScratchFile } from './scratch-file.js';
import { slotArray, type StagingSlots } from './staging.js';

interface ActSlot {
  /** The boundary it holds (-1: none) and the version of that boundary's content. */
  k: number;
  seq: number;
  /** Its content is still needed and is not on disk (evicting it writes it first). */
  dirty: boolean;
  /** Resolves once its content is there (read from disk, or written by the task that produced it). */
  filled: Promise<void>;
  /** Resolves once every transfer into or out of it has landed: it may be overwritten then. */
  done: Promise<void>;
}

type Kind = 'F' | 'FL' | 'B' | 'E';

export class DiskBoundaries {
  private readonly slots: ActSlot[];
  /** Per boundary: the version of its current content, and the version its disk copy holds (written or being written). */
  private readonly latest = new Map<number, number>();
  private readonly onDisk = new Map<number, number>();
  /** Per boundary: its latest disk write (awaited by a read of it, and by the next write). */
  private readonly writes = new Map<number, Promise<void>>();
  private seq = 0;
  /** The running task's output (boundary, slot), written after it. */
  private output: { k: number; slot: number; kind: Kind } | null = null;

  constructor(
    private readonly model: string,
    private readonly last: number,
    private readonly file: ScratchFile,
    /** Byte offset in the scratch file of each boundary on disk. */
    private readonly offsets: Map<number, number>,
    /** The activation slots; each one's content starts at its base (block-aligned when large: staging.ts actSlotBytes). */
    private readonly buffers: StagingSlots,
    private readonly lengths: number[],
    private readonly io: IoCount,
  ) {
    this.slots = buffers.buffers.map(() => ({ k: -1, seq: -1, dirty: false, filled: Promise.resolve(), done: Promise.resolve() }));
  }

  /**
   * Before a task: its input is in a slot, its output has one whose earlier transfers have landed. Returns the
   * [boundary, slot] pairs the task's views use. Every slot is chosen and tagged before the first wait, so a read
   * ahead started here can never be given the same slot as the next task's. `readAhead`: whether a backward reads
   * the next backward's input while it runs (the job's prefetch setting).
   */
  async before(kind: Kind, shard: number, readAhead: boolean): Promise<[number, number][]> {
    const out: [number, number][] = [];
    const waits: Promise<void>[] = [];
    let inSlot = -1;
    if (shard >= 1 && this.offsets.has(shard)) {
      inSlot = this.fetch(shard, -1);
      waits.push(this.slots[inSlot].filled);
      out.push([shard, inSlot]);
    }
    this.output = null;
    const k = shard + 1;
    if ((kind === 'F' || (kind === 'E' && shard < this.last)) && this.offsets.has(k)) {
      const { slot, prev } = this.claim(inSlot);
      // A forward's output is needed by the backward; an evaluation's only by the next evaluation task.
      Object.assign(this.slots[slot], { k, seq: ++this.seq, dirty: kind === 'F', filled: prev, done: prev });
      this.latest.set(k, this.seq);
      this.output = { k, slot, kind };
      waits.push(prev);
      out.push([k, slot]);
    }
    // A backward reads its input for the last time; the next backward's input is read ahead into the other slot.
    if (inSlot >= 0 && (kind === 'B' || kind === 'FL')) {
      this.slots[inSlot].dirty = false;
      const next = shard - 1;
      if (readAhead && next >= 1 && this.offsets.has(next) && this.find(next) < 0) this.slots[this.fetch(next, inSlot)].filled.catch(() => undefined);
    }
    await Promise.all(waits);
    return out;
  }

  /** After a task ran: a forward's output below the top two boundaries is written through. */
  after(): void {
    const o = this.output;
    this.output = null;
    if (o && o.kind === 'F' && o.k < this.last - 1) this.writeOut(o.slot);
  }

  /** Every transfer in flight has landed (or failed). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.done));
  }

  /** The slot holding boundary k's current content, or -1. */
  private find(k: number): number {
    return this.slots.findIndex((s) => s.k === k && s.seq === this.latest.get(k));
  }

  /** The slot (not `avoid`) that holds, or is being given, boundary k's current content: found, or read from disk. */
  private fetch(k: number, avoid: number): number {
    const at = this.find(k);
    if (at >= 0) return at;
    const seq = this.latest.get(k);
    if (seq === undefined || this.onDisk.get(k) !== seq) {
      throw new Error(`boundary activation ${k} of '${this.model}' is neither in an activation slot nor on disk (bookkeeping bug)`);
    }
    const { slot, prev } = this.claim(avoid);
    const dst = slotArray(this.buffers, slot, 0, this.lengths[k]);
    const written = this.writes.get(k);
    const filled = (async () => {
      await prev;
      await written;
      await this.file.read(dst, this.offsets.get(k)!);
      this.io.read += dst.byteLength;
    })();
    filled.catch(() => undefined); // awaited by the task that needs it, which fails on it
    Object.assign(this.slots[slot], { k, seq, dirty: false, filled, done: filled });
    return slot;
  }

  /**
   * A slot to overwrite (not `avoid`): an empty or stale one first, then one whose content is on disk or no longer
   * needed, last a dirty one, whose content is written first. `prev` resolves once its transfers have landed.
   */
  private claim(avoid: number): { slot: number; prev: Promise<void> } {
    const rank = (s: ActSlot) => (s.k < 0 || s.seq !== this.latest.get(s.k) ? 0 : s.dirty ? 2 : 1);
    let best = -1;
    this.slots.forEach((s, i) => {
      if (i !== avoid && (best < 0 || rank(s) < rank(this.slots[best]))) best = i;
    });
    const s = this.slots[best];
    if (s.dirty && s.seq === this.latest.get(s.k)) this.writeOut(best);
    return { slot: best, prev: s.done };
  }

  /** Write a slot's content to its boundary's place on disk, in the background (the slot's `done` waits for it). */
  private writeOut(slot: number): void {
    const s = this.slots[slot];
    const { k, seq, filled } = s;
    const src = slotArray(this.buffers, slot, 0, this.lengths[k]);
    const earlier = this.writes.get(k);
    const w = (async () => {
      await filled;
      await earlier?.catch(() => undefined);
      await this.file.write(src, this.offsets.get(k)!);
      this.io.written += src.byteLength;
    })();
    w.catch(() => undefined); // awaited by whoever reads the boundary or reuses the slot, which fails on it
    this.onDisk.set(k, seq);
    this.writes.set(k, w);
    s.dirty = false;
    s.done = Promise.all([s.done, w]).then(() => undefined);
  }
}
