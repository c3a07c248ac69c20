/**
 * Model-LRTF (task parallelism, a paper baseline): a free device without a model takes the unassigned model with the
 * longest remaining time and keeps it for the model's whole run; no other device ever runs that model's tasks.
 * With fewer models than devices the extra devices idle; near the end, devices whose models finished idle too.
 */
import { IndexedMaxHeap } from '../heap.js';
import type { ModelState } from '../model-state.js';
import type { Lookahead, Policy } from '../policy.js';
import { grown } from './grow.js';
import type { TaskRef } from '../types.js';

export class ModelLrtf implements Policy {
  readonly name = 'model-lrtf' as const;
  private unassigned!: IndexedMaxHeap<ModelState>;
  /** The model each device owns (index), or -1. */
  private owner!: Int32Array;
  /** The device owning each model, or -1. */
  private ownedBy!: Int32Array;
  private isReady!: Uint8Array;
  private models: readonly ModelState[] = [];

  attach(models: readonly ModelState[], devices: number): void {
    this.models = models;
    this.unassigned = new IndexedMaxHeap<ModelState>(models.length, (m) => m.notStarted);
    this.owner = new Int32Array(devices).fill(-1);
    this.ownedBy = new Int32Array(models.length).fill(-1);
    this.isReady = new Uint8Array(models.length);
  }

  /** The device that owns a model, or -1 (for tests and progress displays). */
  deviceOf(m: ModelState): number {
    return this.ownedBy[m.index];
  }

  ready(m: ModelState): void {
    this.isReady[m.index] = 1;
    if (this.ownedBy[m.index] < 0 && !this.unassigned.has(m)) this.unassigned.push(m);
  }

  withdraw(m: ModelState): void {
    this.isReady[m.index] = 0;
    this.unassigned.remove(m);
  }

  finished(m: ModelState): void {
    this.withdraw(m);
    const d = this.ownedBy[m.index];
    if (d >= 0) this.owner[d] = -1;
    this.ownedBy[m.index] = -1;
  }

  /** A held model gives its device back (another model may need it to reach the rung it waits on). */
  held(m: ModelState): void {
    this.finished(m);
  }

  added(m: ModelState): void {
    this.unassigned.grow(m.index + 1);
    this.ownedBy = grown(this.ownedBy, m.index + 1, -1);
    this.isReady = grown(this.isReady, m.index + 1, 0);
  }

  pick(device: number): ModelState | null {
    let i = this.owner[device];
    if (i < 0) {
      const m = this.unassigned.pop();
      if (!m) return null;
      i = m.index;
      this.owner[device] = i;
      this.ownedBy[i] = device;
    }
    if (!this.isReady[i]) return null;
    this.isReady[i] = 0;
    return this.models[i];
  }

  predict(look: Lookahead): TaskRef | null {
    if (look.current) return look.current.next();
    const own = this.owner[look.device];
    if (own >= 0) return this.isReady[own] ? this.models[own].next() : null;
    // Idle devices (and devices freeing earlier whose model is over) take the longest unassigned models first.
    let skip = look.others.filter((o) => o.returns === null).length;
    for (const m of this.unassigned.descending()) if (skip-- === 0) return m.next();
    return null;
  }
}
