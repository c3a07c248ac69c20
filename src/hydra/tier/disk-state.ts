/**
 * One model's state in the disk tier: a scratch file holding what the placement put on disk (the values, gradients
 * and moments of disk shards' parameters; the moments of parameters whose values stay in RAM; boundary activations,
 * through the model's activation slots: disk-boundaries.ts), its use of the job's staging slots (staging.ts: one pool
 * for every model) while a disk shard's task runs, and the steps of every parameter whose moments are on disk.
 *
 * Order of events (the orchestrator calls these in task order; each model has at most one task in flight):
 *   - `load(shard)` before a task: waits for any step still writing the shard's parameters, then reads the shard's
 *     disk values into a slot (or finds them there, prefetched or still valid) and returns the slot;
 *   - `boundaries(kind, shard)` before a task: its input and output activations on disk have slots (the input read);
 *   - `prefetch(shard)` at a task's start: the model's next shard is read into a free slot while the task runs;
 *   - `readAhead(shard)` at any task's start, for the task the scheduler will give that device next (any model's):
 *     the shard is read into a free slot and the slot is pinned, so that the device can copy it host → device
 *     before its task comes (two levels deep: disk → host → device); `unpin` when that copy has landed;
 *   - `after(...)` when a training task ends: the parameters whose gradients became final are stepped from disk in
 *     chunks (without clipping; with clipping, the gradients go to disk and everything is stepped after shard 0's
 *     backward, once the global norm is known, in the next forward's order, in the slots that still hold values and
 *     gradients where they can: `stepAll`). Steps run in the background; the next task that reads a stepped
 *     parameter waits for its step (`load`), so the step of shard k overlaps the backward of shard k - 1 (without
 *     clipping) or the forward of shard k - 1 (with it).
 * A failed read or write (a full disk) fails the next task that depends on it, naming the file and the error.
 */
import type { Backend } from '../../backend/backend.js';
import { initParamsInto } from '../../nn/init.js';
import { stateNames } from '../../optim/optimizer.js';
import { recipeLr } from '../../optim/recipe.js';
import { gradFinalHere, type ModelRuntime, type ParamPlacement } from '../run/model-runtime.js';
import type { HostStateBuffers, HostViews } from './host-state.js';
import type { ModelPlacement } from './placement.js';
import { ALIGN, ScratchFile } from './scratch-file.js';
import { streamStep, type ChunkBuffer, type IoCount, type StateArray } from './disk-step.js';
import { DiskBoundaries } from './disk-boundaries.js';
import { slotArray, stagingLayout, type StagingLayout, type StagingPool } from './staging.js';

interface Offsets {
  value?: number;
  grad?: number;
  states: number[];
}

/** Bytes moved ahead of the task that needs them, for the device's next task (readAhead). */
export interface AheadCount {
  /** Read disk → host while another task ran. */
  read: number;
  /** Of those, copied host → device from the slot before the task came. */
  uploaded: number;
}

export class ModelDiskState {
  readonly io: IoCount = { read: 0, written: 0 };
  readonly ahead: AheadCount = { read: 0, uploaded: 0 };
  /** Per parameter: its step (or gradient write) still in flight. */
  private readonly pending = new Map<string, Promise<void>>();
  private gen = 0;
  private readonly layout: StagingLayout;
  private readonly states: string[];
  /** Its boundary activations on disk (null: all in RAM). */
  private readonly acts: DiskBoundaries | null;

  private constructor(
    private readonly rt: ModelRuntime,
    readonly placement: ModelPlacement,
    readonly file: ScratchFile,
    private readonly offsets: Map<string, Offsets>,
    buffers: HostStateBuffers,
    private readonly views: HostViews,
    private readonly chunk: ChunkBuffer,
    private readonly be: Backend,
    private readonly pool: StagingPool | null,
    actOffsets: Map<number, number>,
  ) {
    this.layout = stagingLayout(rt, new Set(buffers.staging?.diskParams ?? []));
    this.states = stateNames(rt.recipe.optimizer);
    const a = buffers.actSlots;
    this.acts = actOffsets.size > 0 && a ? new DiskBoundaries(placement.model, rt.shards.length - 1, file, actOffsets, a, a.lengths, this.io) : null;
  }

  static async create(rt: ModelRuntime, placement: ModelPlacement, dir: string, buffers: HostStateBuffers, views: HostViews, chunk: ChunkBuffer, be: Backend, pool: StagingPool | null): Promise<ModelDiskState> {
    const states = stateNames(rt.recipe.optimizer).length;
    const offsets = new Map<string, Offsets>();
    let at = 0;
    const take = (n: number) => {
      const o = at;
      at += Math.ceil((n * 4) / ALIGN) * ALIGN;
      return o;
    };
    for (const p of rt.params) {
      const home = placement.home.get(p.spec.name);
      if (home === 'host') continue;
      const o: Offsets = { states: [] };
      if (home === 'disk') o.value = take(p.n);
      for (let s = 0; s < states; s++) o.states.push(take(p.n));
      offsets.set(p.spec.name, o);
    }
    // Boundary activations (never written for the top two: their places are there for the safety net only).
    const actOffsets = new Map<number, number>();
    for (const k of placement.diskBoundaries) actOffsets.set(k, take(rt.boundaryLength[k]));
    if (actOffsets.size > 0 && !buffers.actSlots) throw new Error(`disk tier: '${placement.model}' has boundary activations on disk and no activation slots`);
    // Gradients last: they are written only with clipping, after a backward (the file grows as it is written).
    for (const p of rt.params) if (placement.home.get(p.spec.name) === 'disk') offsets.get(p.spec.name)!.grad = take(p.n);
    // Moments read as zeros (the optimizer's fresh state) until first written.
    const file = await ScratchFile.create(dir);
    if (placement.diskShards.length > 0 && !(pool && pool.slotBytes >= placement.slotBytes)) throw new Error(`disk tier: '${placement.model}' stages shards of ${placement.slotBytes} bytes and has no staging slots that large`);
    return new ModelDiskState(rt, placement, file, offsets, buffers, views, chunk, be, pool, actOffsets);
  }

  /** Initialise the disk-resident parameter values (per shard, through a slot). */
  async initParams(seed: number): Promise<void> {
    for (const k of this.placement.diskShards) {
      const slot = await this.pool!.claim(this);
      this.views.stage(k, slot);
      const specs = this.rt.shardParams[k].filter((p) => this.layout.has(p.spec.name)).map((p) => p.spec);
      await initParamsInto(specs, seed, (spec) => this.views.param(spec.name));
      await Promise.all(specs.map((s) => this.writeArray(this.views.param(s.name), this.offsets.get(s.name)!.value!)));
      this.pool!.release(slot, this, false);
    }
  }

  /** A parameter's value or optimizer state (a copy), wherever it lives: for checkpoints and results. */
  async readParam(name: string, state?: string): Promise<Float32Array> {
    await this.drain();
    const p = this.rt.byName.get(name)!;
    const o = this.offsets.get(name);
    const at = state === undefined ? o?.value : o?.states[this.states.indexOf(state)];
    if (at === undefined) return Float32Array.from(state === undefined ? this.views.param(name) : this.views.opt(state, name));
    const out = new Float32Array(p.n);
    await this.readArray(out, at);
    return out;
  }

  /**
   * Elements [offset, offset + dst.length) of a parameter's value or optimizer state, wherever it lives: a checkpoint
   * or the final weights streamed piece by piece, never the whole model in memory.
   */
  async readRange(name: string, state: string | undefined, dst: Float32Array, offset: number): Promise<void> {
    await this.drain();
    const o = this.offsets.get(name);
    const at = state === undefined ? o?.value : o?.states[this.states.indexOf(state)];
    if (at === undefined) dst.set((state === undefined ? this.views.param(name) : this.views.opt(state, name)).subarray(offset, offset + dst.length));
    else await this.readArray(dst, at + offset * 4);
  }

  /** Set elements [offset, offset + src.length) of a parameter's value or optimizer state wherever it lives. */
  async writeRange(name: string, state: string | undefined, src: Float32Array, offset: number): Promise<void> {
    await this.drain();
    const o = this.offsets.get(name);
    const at = state === undefined ? o?.value : o?.states[this.states.indexOf(state)];
    if (at === undefined) (state === undefined ? this.views.param(name) : this.views.opt(state, name)).set(src, offset);
    else await this.writeArray(src, at + offset * 4);
    this.gen++; // values staged in slots are stale now
  }

  /** Set a parameter's value or optimizer state wherever it lives (initial weights, a resumed checkpoint). */
  async writeParam(name: string, data: Float32Array, state?: string): Promise<void> {
    await this.drain();
    const o = this.offsets.get(name);
    const at = state === undefined ? o?.value : o?.states[this.states.indexOf(state)];
    if (at === undefined) (state === undefined ? this.views.param(name) : this.views.opt(state, name)).set(data);
    else await this.writeArray(data, at);
    this.gen++; // values staged in slots are stale now
  }

  /** Whether a task on `shard` stages it from disk. */
  staged(shard: number): boolean {
    return this.placement.diskShards.includes(shard);
  }

  /** Whether a step of the disk tier still writes a parameter `shard` uses (a device prefetch of it would be stale). */
  stepping(shard: number): boolean {
    return this.rt.shardParams[shard].some((p) => this.pending.has(p.spec.name));
  }

  /** Before a task on `shard`: its parameters' steps have landed; a disk shard is staged. Returns the slot, if any. */
  async load(shard: number): Promise<number | undefined> {
    await Promise.all(this.rt.shardParams[shard].map((p) => this.pending.get(p.spec.name)));
    if (!this.staged(shard)) return undefined;
    const pool = this.pool!;
    for (;;) {
      const i = pool.find(this, shard, this.gen);
      if (i >= 0 && pool.slot(i).busy) {
        // Being prefetched, or its step still writing back: wait for it to be given back.
        await pool.changed();
        continue;
      }
      const slot = i >= 0 ? i : await pool.claim(this);
      pool.slot(slot).busy = true;
      if (i < 0 || !(await pool.slot(slot).ready!.catch(() => false))) {
        this.fill(slot, shard);
        try {
          await pool.slot(slot).ready;
        } catch (e) {
          pool.release(slot, this, false);
          throw e;
        }
      }
      pool.touch(slot);
      this.views.stage(shard, slot);
      return slot;
    }
  }

  /**
   * Before a task: its boundary activations on disk have activation slots, its input read into one (the [boundary,
   * slot] pairs the task's views use), or undefined when it touches none. `readAhead`: a backward reads the next
   * backward's input while it runs (off with the job's `prefetch: false`).
   */
  async boundaries(kind: 'F' | 'FL' | 'B' | 'E', shard: number, readAhead: boolean): Promise<[number, number][] | undefined> {
    const b = await this.acts?.before(kind, shard, readAhead);
    return b && b.length > 0 ? b : undefined;
  }

  /** Read `shard`'s values into a free slot while other work runs (nothing happens when no slot is free). */
  prefetch(shard: number): void {
    const pool = this.pool;
    if (!pool || !this.staged(shard) || pool.find(this, shard, this.gen) >= 0) return;
    const i = pool.free();
    if (i < 0) return;
    Object.assign(pool.slot(i), { owner: this, busy: true });
    // Most recently used: the LRU choice of a free slot takes it last.
    pool.touch(i);
    this.fill(i, shard);
    void pool.slot(i).ready!.then(
      () => pool.release(i, this, true),
      () => pool.release(i, this, false),
    );
  }

  /**
   * `shard`'s current values in a slot, pinned (no fill, step or task touches it) until `unpin`: read from disk into
   * a free slot, or the slot that already holds them. Resolves with the slot once they are there, or undefined when
   * none is free, the shard's slot is in use, or the values went stale meanwhile (a step of every parameter).
   */
  async readAhead(shard: number): Promise<number | undefined> {
    const pool = this.pool;
    if (!pool || !this.staged(shard)) return undefined;
    let i = pool.find(this, shard, this.gen);
    const read = i < 0;
    if (i >= 0 && pool.slot(i).busy) return undefined;
    if (read) i = pool.free();
    if (i < 0) return undefined;
    Object.assign(pool.slot(i), { owner: this, busy: true });
    pool.touch(i);
    if (read) this.fill(i, shard);
    const s = pool.slot(i), gen = s.gen;
    const ok = await s.ready!.catch(() => false);
    if (!ok || gen !== this.gen) {
      pool.release(i, this, ok);
      return undefined;
    }
    if (read) this.ahead.read += this.rt.shardParams[shard].reduce((a, p) => a + (this.layout.has(p.spec.name) ? p.n * 4 : 0), 0);
    return i;
  }

  /** A slot pinned by readAhead is free again; it keeps the shard's values. `uploaded`: bytes the device copied. */
  unpin(slot: number, uploaded: number): void {
    this.ahead.uploaded += uploaded;
    this.pool!.release(slot, this, true);
  }

  /**
   * After a task. `slot`: where the task's shard was staged. Training tasks start the steps (or gradient writes)
   * their gradients allow; `gradNorm`'s clipping scale applies once shard 0's backward has finished the step.
   */
  after(kind: 'F' | 'FL' | 'B' | 'E', shard: number, slot: number | undefined, step: number, clipScale: number | undefined): void {
    this.acts?.after();
    const training = kind === 'FL' || kind === 'B';
    if (!training) {
      if (slot !== undefined) this.pool!.release(slot, this, true);
      return;
    }
    const clipping = this.rt.recipe.clipNorm > 0;
    const lr = recipeLr(this.rt.recipe, step);
    const args = (p: ParamPlacement, gradScale: number) => ({ lr, t: step + 1, gradScale, decay: p.spec.decay });
    const mine = this.rt.shardParams[shard].filter((p) => this.offsets.has(p.spec.name));
    const slotWork: Promise<unknown>[] = [];
    if (!clipping) {
      for (const p of mine.filter((p) => gradFinalHere(p, shard))) {
        const work = this.stepOne(p, args(p, 1), slot);
        this.track(p.spec.name, work);
        slotWork.push(work);
      }
    } else {
      // The backward left the shard's gradients in its slot, beside the values.
      if (slot !== undefined) this.pool!.slot(slot).grads = true;
      if (shard === 0) {
        // The step is complete: the global norm is known.
        this.stepAll(slot, (p) => args(p, clipScale ?? 1));
        return;
      }
      // Written to disk for the step, unless the slot still holds them then (stepAll).
      for (const p of mine.filter((p) => this.layout.has(p.spec.name))) {
        const work = this.writeArray(this.views.grad(p.spec.name), this.offsets.get(p.spec.name)!.grad!);
        this.track(p.spec.name, work);
        slotWork.push(work);
      }
    }
    if (slot !== undefined) void Promise.allSettled(slotWork).then(() => this.pool!.release(slot, this, true));
  }

  /**
   * With clipping, the step that shard 0's backward completed (`step`) is streamed in the background: the next
   * step's tasks start at once, each waiting only for its own shard's parameters (`load`), so the stream overlaps the
   * next forward. A step counts once its updates have landed: `landedSteps` is the count that has (a failure rolls
   * the model's count back to it), `landing` is set while one is in flight.
   */
  land(step: number): void {
    if (this.landedSteps < 0) this.landedSteps = step;
    const p = this.drain().then(() => {
      this.landedSteps = Math.max(this.landedSteps, step + 1);
      if (this.landing === p) this.landing = null;
    });
    p.catch(() => undefined); // awaited by whoever needs the step whole (a checkpoint, the model's end) or fails on it
    this.landing = p;
  }

  /** Steps whose disk-tier updates have all landed (-1: none streamed in the background yet). */
  landedSteps = -1;
  landing: Promise<void> | null = null;

  /** Every step and write in flight has landed; rejects with the first failure. */
  async drain(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }

  async remove(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
    await this.acts?.settle();
    if (this.pool) {
      // Its reads into slots land before the slots serve another model.
      await Promise.allSettled(this.pool.reading(this));
      this.pool.releaseOwner(this);
    }
    await this.file.remove();
  }

  /**
   * The step of every parameter whose state is on disk, once shard 0's backward has made the global norm known
   * (clipping), in canonical order (shard 0's first: the next forward needs them first). Each waits for its
   * gradient's write and for the one before it: the chunk buffer serves them in the forward's order, not in the
   * order their gradient writes land in (shard 0's, written last, would otherwise be stepped last, and the next
   * forward's first task would wait for the whole model's step). A disk shard whose slot still holds its values and
   * this backward's gradients (shard 0's: `taskSlot`, its gradients never written; the shards whose backwards ran
   * just before, when their slots were not taken since) is stepped in that slot, pinned until its step has landed:
   * its value and gradient are not read from disk, and its next task finds the new values there. Every other one
   * streams from disk.
   */
  private stepAll(taskSlot: number | undefined, args: (p: ParamPlacement) => { lr: number; t: number; gradScale: number; decay: boolean }): void {
    const pool = this.pool;
    const inSlot = new Map<number, number>();
    for (const k of pool ? this.placement.diskShards : []) {
      const i = k === 0 && taskSlot !== undefined ? taskSlot : pool!.find(this, k, this.gen);
      if (i < 0 || !pool!.slot(i).grads || (i !== taskSlot && pool!.slot(i).busy)) continue;
      pool!.slot(i).busy = true;
      inSlot.set(k, i);
    }
    // Values staged in other slots (or being read into one) are stale once the step runs.
    this.gen++;
    const work = new Map<number, Promise<void>[]>();
    let turn: Promise<unknown> = Promise.resolve();
    for (const p of this.rt.params.filter((p) => this.offsets.has(p.spec.name))) {
      const k = this.layout.get(p.spec.name)?.shard;
      const slot = k === undefined ? undefined : inSlot.get(k);
      const w = Promise.all([this.pending.get(p.spec.name), turn]).then(() => this.stepOne(p, args(p), slot));
      turn = w.catch(() => undefined);
      this.track(p.spec.name, w);
      if (k !== undefined && slot !== undefined) work.set(k, [...(work.get(k) ?? []), w]);
    }
    for (const [k, i] of inSlot) {
      // Found (busy) by the shard's next task, which waits for the slot to be given back: it holds the new values.
      const s = pool!.slot(i);
      s.gen = this.gen;
      s.ready = Promise.allSettled(work.get(k) ?? []).then((r) => r.every((x) => x.status === 'fulfilled'));
      void s.ready.then((ok) => {
        s.grads = false;
        pool!.release(i, this, ok);
      });
    }
  }

  /**
   * One parameter's step: a disk parameter staged in `slot` is stepped there (its new values written through to disk
   * chunk by chunk; the slot keeps a valid copy), one not staged streams its value and gradient from disk; values in
   * RAM are stepped in place. Its moments stream from disk.
   */
  private stepOne(p: ParamPlacement, args: { lr: number; t: number; gradScale: number; decay: boolean }, slot: number | undefined): Promise<void> {
    const name = p.spec.name, o = this.offsets.get(name)!, file = this.file;
    const at = slot === undefined ? undefined : this.layout.get(name);
    const staged = (which: 'value' | 'grad') => slotArray(this.pool!, slot!, at![which], p.n);
    const param: StateArray = at ? { host: staged('value'), through: { file, offset: o.value! } } : o.value === undefined ? { host: this.views.param(name) } : { file, offset: o.value };
    const grad: StateArray = at ? { host: staged('grad') } : o.grad === undefined ? { host: this.views.grad(name) } : { file, offset: o.grad };
    const states = o.states.map((offset) => ({ file: this.file, offset }));
    return streamStep(this.be, this.rt.recipe.optimizer, { param, grad, states }, p.n, args, this.chunk, this.io);
  }

  private track(name: string, work: Promise<void>): void {
    const mark = work.then(() => {
      if (this.pending.get(name) === mark) this.pending.delete(name);
    });
    // A failure stays in `pending` so that the next task (and drain) sees it; it is handled there.
    mark.catch(() => undefined);
    this.pending.set(name, mark);
  }

  private fill(i: number, shard: number): void {
    const s = this.pool!.slot(i);
    s.shard = shard;
    s.gen = this.gen;
    s.grads = false;
    const specs = this.rt.shardParams[shard].filter((p) => this.layout.has(p.spec.name));
    s.ready = Promise.all(specs.map((p) => this.pending.get(p.spec.name)))
      .then(() => Promise.all(specs.map((p) => this.readArray(slotArray(this.pool!, i, this.layout.get(p.spec.name)!.value, p.n), this.offsets.get(p.spec.name)!.value!))))
      .then(() => true);
    s.ready.catch(() => undefined);
  }

  private async readArray(dst: Float32Array, at: number): Promise<void> {
    await this.file.read(dst, at);
    this.io.read += dst.byteLength;
  }

  private async writeArray(src: Float32Array, at: number): Promise<void> {
    await this.file.write(src, at);
    this.io.written += src.byteLength;
  }
}
