/**
 * Deterministic, stateless batch loader over a BlockDataset.
 *
 * `batch(epoch, step)` is a pure function of (dataset, options, epoch, step): the epoch's block order is a
 * Fisher-Yates shuffle driven by the counter-based hash of src/backend/rng.ts keyed by (seed, PURPOSE_SHUFFLE,
 * epoch), so it is identical on every machine and under any scheduling, and resuming at (epoch, step) needs no saved
 * loader state. Batch `step` of an epoch holds the blocks order[step*B .. step*B+B).
 *
 * Last partial batch: 'drop' (default) skips the blocks that do not fill a whole batch (they still get a chance in
 * other epochs, because the order changes); 'keep' yields a final smaller batch (B < batchSize).
 */
import { hashAt, keyPrefix } from '../backend/rng.js';
import type { BlockDataset } from './text-dataset.js';

/** RNG `purpose` word for data shuffling (nn uses 1-3 for dropout, 100 for init). */
export const PURPOSE_SHUFFLE = 200;

export type LastBatchPolicy = 'drop' | 'keep';

export interface LoaderOptions {
  batchSize: number;
  /** uint32 seed of the shuffle; default 0. */
  seed?: number;
  /** Default true. false: blocks in file order every epoch (evaluation). */
  shuffle?: boolean;
  lastBatch?: LastBatchPolicy;
}

export interface Batch {
  /** (B, T) input tokens, row-major. */
  tokens: Int32Array;
  /** (B, T) next-token targets. */
  targets: Int32Array;
  B: number;
  T: number;
  epoch: number;
  step: number;
  /** Dataset block index of each row. */
  blocks: Uint32Array;
}

/** Position of the batch to run: epoch and step within the epoch. */
export interface DataPosition {
  epoch: number;
  step: number;
}

/**
 * A permutation of [0, n) as a pure function of (seed, epoch). The j for position i comes from a 53-bit uniform
 * built from two hashes, so the shuffle stays unbiased for any realistic n; all arithmetic is exact or IEEE-rounded
 * the same way everywhere.
 */
export function shuffledOrder(n: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const prefix = keyPrefix({ seed: seed >>> 0, purpose: PURPOSE_SHUFFLE, step: epoch >>> 0, layer: 0 });
  for (let i = n - 1; i > 0; i--) {
    const hi = hashAt(prefix, 2 * i) >>> 5; // 27 bits
    const lo = hashAt(prefix, 2 * i + 1) >>> 6; // 26 bits
    const u = (hi * 67108864 + lo) / 9007199254740992; // [0, 1) with 53 bits
    const j = Math.min(i, Math.floor(u * (i + 1)));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

function checkUint(name: string, v: number, max = 0xffffffff): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name} must be an integer in [0, ${max}], got ${v}`);
}

export class Loader {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly lastBatch: LastBatchPolicy;
  readonly stepsPerEpoch: number;
  readonly T: number;
  private cachedEpoch = -1;
  private cachedOrder: Uint32Array | null = null;

  constructor(readonly dataset: BlockDataset, options: LoaderOptions) {
    const { batchSize, seed = 0, shuffle = true, lastBatch = 'drop' } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    checkUint('seed', seed);
    if (lastBatch !== 'drop' && lastBatch !== 'keep') throw new RangeError(`lastBatch must be 'drop' or 'keep', got ${JSON.stringify(lastBatch)}`);
    const n = dataset.numBlocks;
    if (lastBatch === 'drop' && n < batchSize) {
      throw new RangeError(`${dataset.name} has ${n} blocks of ${dataset.nCtx} tokens, fewer than batchSize=${batchSize}; use a smaller batch, a shorter n_ctx or lastBatch 'keep'`);
    }
    this.batchSize = batchSize;
    this.seed = seed;
    this.shuffle = shuffle;
    this.lastBatch = lastBatch;
    this.T = dataset.nCtx;
    this.stepsPerEpoch = lastBatch === 'drop' ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  }

  /** Block order of an epoch (memoised for the last epoch asked; callers must not modify it). */
  order(epoch: number): Uint32Array {
    checkUint('epoch', epoch);
    if (this.cachedEpoch !== epoch || !this.cachedOrder) {
      const n = this.dataset.numBlocks;
      this.cachedOrder = this.shuffle ? shuffledOrder(n, this.seed, epoch) : Uint32Array.from({ length: n }, (_, i) => i);
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  batch(epoch: number, step: number): Batch {
    checkUint('epoch', epoch);
    if (!Number.isInteger(step) || step < 0 || step >= this.stepsPerEpoch) {
      throw new RangeError(`step must be an integer in [0, ${this.stepsPerEpoch}) (steps per epoch), got ${step}`);
    }
    const order = this.order(epoch);
    const first = step * this.batchSize;
    const B = Math.min(this.batchSize, order.length - first);
    const T = this.T;
    const tokens = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    const blocks = order.slice(first, first + B);
    for (let b = 0; b < B; b++) this.dataset.fillBlock(blocks[b], tokens, targets, b * T);
    return { tokens, targets, B, T, epoch, step, blocks };
  }

  /** Position of the n-th batch counted from (0, 0). */
  position(globalStep: number): DataPosition {
    if (!Number.isInteger(globalStep) || globalStep < 0) throw new RangeError(`globalStep must be a non-negative integer, got ${globalStep}`);
    return { epoch: Math.floor(globalStep / this.stepsPerEpoch), step: globalStep % this.stepsPerEpoch };
  }

  /** The position after `p`. */
  next(p: DataPosition): DataPosition {
    return p.step + 1 < this.stepsPerEpoch ? { epoch: p.epoch, step: p.step + 1 } : { epoch: p.epoch + 1, step: 0 };
  }

  /** Batches from `start` (inclusive) up to the end of epoch `endEpoch - 1`. */
  *batches(start: DataPosition = { epoch: 0, step: 0 }, endEpoch = start.epoch + 1): Generator<Batch> {
    for (let p = start; p.epoch < endEpoch; p = this.next(p)) yield this.batch(p.epoch, p.step);
  }
}
