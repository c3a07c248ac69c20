/**
 * The host tier: shared memory (SharedArrayBuffer) that every device worker can read and write in place, under a
 * byte budget. A disk tier (a later issue) will implement the same alloc/release contract with files.
 */

import { adviseHugePages } from './huge-pages.js';

export class HostOutOfMemoryError extends Error {
  constructor(
    readonly requested: number,
    readonly inUse: number,
    readonly budget: number,
    readonly what: string,
  ) {
    super(
      `host tier: cannot hold ${what} (${requested} bytes): ${inUse} of ${budget} bytes in use ` +
        `(raise hostMemory, train fewer models at once, or use smaller models)`,
    );
    this.name = 'HostOutOfMemoryError';
  }
}

export class HostTier {
  private inUse = 0;
  private highWater = 0;
  private readonly sizes = new WeakMap<SharedArrayBuffer, number>();

  constructor(private cap: number = Infinity) {}

  get budget(): number {
    return this.cap;
  }

  /**
   * A larger cap (never smaller: what is allocated stays within it). The default host cap grows once the job's
   * models are planned and the devices in RAM are known to need less than their budgets (job-tiers.ts place).
   */
  raiseBudget(bytes: number): void {
    this.cap = Math.max(this.cap, bytes);
  }

  alloc(bytes: number, what: string): SharedArrayBuffer {
    if (this.inUse + bytes > this.budget) throw new HostOutOfMemoryError(bytes, this.inUse, this.budget, what);
    const b = new SharedArrayBuffer(bytes);
    adviseHugePages(b);
    this.inUse += bytes;
    this.highWater = Math.max(this.highWater, this.inUse);
    this.sizes.set(b, bytes);
    return b;
  }

  release(b: SharedArrayBuffer): void {
    const n = this.sizes.get(b);
    if (n === undefined) return; // not ours (e.g. the empty placeholder of shard 0's input)
    this.sizes.delete(b);
    this.inUse -= n;
  }

  stats(): { budget: number; inUse: number; highWater: number } {
    return { budget: this.budget, inUse: this.inUse, highWater: this.highWater };
  }
}
