/**
 * Round-robin: a free device takes the next ready model in cyclic order after the last model handed out (by any
 * device). Finished models are unlinked from the cycle, so a decision skips at most the models in flight (≤ devices).
 */
import type { ModelState } from '../model-state.js';
import type { Lookahead, Policy } from '../policy.js';
import { grown } from './grow.js';
import type { TaskRef } from '../types.js';

export class RoundRobin implements Policy {
  readonly name = 'round-robin' as const;
  private models: readonly ModelState[] = [];
  private isReady!: Uint8Array;
  /** Circular doubly linked list of unfinished models. */
  private nextOf!: Int32Array;
  private prevOf!: Int32Array;
  private live = 0;
  /** The model handed out last (the cycle resumes after it). */
  private last = -1;

  attach(models: readonly ModelState[]): void {
    const n = models.length;
    this.models = models;
    this.isReady = new Uint8Array(n);
    this.nextOf = Int32Array.from({ length: n }, (_, i) => (i + 1) % n);
    this.prevOf = Int32Array.from({ length: n }, (_, i) => (i + n - 1) % n);
    this.live = n;
    this.last = n - 1;
  }

  ready(m: ModelState): void {
    this.isReady[m.index] = 1;
  }

  withdraw(m: ModelState): void {
    this.isReady[m.index] = 0;
  }

  finished(m: ModelState): void {
    const i = m.index;
    if (this.nextOf[i] < 0) return;
    this.isReady[i] = 0;
    const p = this.prevOf[i], q = this.nextOf[i];
    this.nextOf[p] = q;
    this.prevOf[q] = p;
    if (this.last === i) this.last = p;
    this.nextOf[i] = this.prevOf[i] = -1;
    this.live--;
  }

  held(): void {}

  /** The new model joins the cycle just before the first live one (it is last in the order). */
  added(m: ModelState): void {
    const i = m.index;
    this.isReady = grown(this.isReady, i + 1, 0);
    this.nextOf = grown(this.nextOf, i + 1, -1);
    this.prevOf = grown(this.prevOf, i + 1, -1);
    const first = this.firstLive();
    if (first < 0) {
      this.nextOf[i] = this.prevOf[i] = i;
      this.last = i;
    } else {
      const p = this.prevOf[first];
      this.nextOf[p] = i;
      this.prevOf[i] = p;
      this.nextOf[i] = first;
      this.prevOf[first] = i;
    }
    this.live++;
  }

  pick(): ModelState | null {
    const i = this.scan(this.last, (j) => this.isReady[j] === 1);
    if (i < 0) return null;
    this.isReady[i] = 0;
    this.last = i;
    return this.models[i];
  }

  /** Replay the picks of the devices asking first (see ShardedLrtf.predict) on an overlay of the readiness flags. */
  predict(look: Lookahead): TaskRef | null {
    const override = new Map<number, boolean>();
    const readyNow = (j: number) => override.get(j) ?? this.isReady[j] === 1;
    let last = this.last;
    const take = () => {
      const i = this.scan(last, readyNow);
      if (i >= 0) {
        override.set(i, false);
        last = i;
      }
      return i;
    };
    // One pick per device asking first (a cheap approximation: a device with short tasks may ask twice).
    for (const o of look.others) {
      if (o.returns) override.set(o.returns.index, true);
      take();
    }
    if (look.current) override.set(look.current.index, true);
    const i = take();
    return i >= 0 ? this.models[i].next() : null;
  }

  /** First live model after `from` in cycle order satisfying `ok`, or -1. */
  private scan(from: number, ok: (j: number) => boolean): number {
    if (this.live === 0) return -1;
    // `from` may have been unlinked; its stored successor pointer is gone, so restart from a live model.
    let j = this.nextOf[from] >= 0 ? this.nextOf[from] : this.firstLive();
    for (let seen = 0; seen < this.live; seen++, j = this.nextOf[j]) if (ok(j)) return j;
    return -1;
  }

  private firstLive(): number {
    for (let i = 0; i < this.models.length; i++) if (this.nextOf[i] >= 0) return i;
    return -1;
  }
}
