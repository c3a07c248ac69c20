/**
 * Random: a free device takes a ready model chosen uniformly by a seeded generator (deterministic for a given seed
 * and call sequence). It has no meaningful lookahead, so it never suggests a prefetch.
 */
import type { ModelState } from '../model-state.js';
import type { Policy } from '../policy.js';
import { grown } from './grow.js';

export class RandomPolicy implements Policy {
  readonly name = 'random' as const;
  private models: readonly ModelState[] = [];
  private readySet: number[] = [];
  private slot!: Int32Array;
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`random policy seed: expected an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  attach(models: readonly ModelState[]): void {
    this.models = models;
    this.slot = new Int32Array(models.length).fill(-1);
  }

  ready(m: ModelState): void {
    if (this.slot[m.index] >= 0) return;
    this.slot[m.index] = this.readySet.length;
    this.readySet.push(m.index);
  }

  withdraw(m: ModelState): void {
    const at = this.slot[m.index];
    if (at < 0) return;
    const last = this.readySet.pop()!;
    if (at < this.readySet.length) {
      this.readySet[at] = last;
      this.slot[last] = at;
    }
    this.slot[m.index] = -1;
  }

  finished(): void {}

  held(): void {}

  added(m: ModelState): void {
    this.slot = grown(this.slot, m.index + 1, -1);
  }

  pick(): ModelState | null {
    if (this.readySet.length === 0) return null;
    const m = this.models[this.readySet[Math.floor(this.uniform() * this.readySet.length)]];
    this.withdraw(m);
    return m;
  }

  predict(): null {
    return null;
  }

  /** mulberry32: tiny, fast, and good enough to spread choices (this is not the training RNG). */
  private uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
