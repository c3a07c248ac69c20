import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockDataset } from '../../src/data/text-dataset.js';
import { Loader, shuffledOrder, type Batch } from '../../src/data/loader.js';

/** 10 blocks of T=4 whose tokens encode (block, position): token = 10*block + position. */
function toyDataset(blocks = 10, T = 4): BlockDataset {
  const tokens = Uint16Array.from({ length: blocks * T + 1 }, (_, i) => i);
  return new BlockDataset(tokens, T, 'toy');
}

test('shuffledOrder is a permutation, a pure function of (seed, epoch), and differs across seeds and epochs', () => {
  const a = shuffledOrder(100, 7, 3);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(shuffledOrder(100, 7, 3), a);
  assert.notDeepEqual(shuffledOrder(100, 7, 4), a);
  assert.notDeepEqual(shuffledOrder(100, 8, 3), a);
  // Regression pin: this order must never change, or resumed runs would see different data than the original run.
  assert.deepEqual([...shuffledOrder(8, 42, 0)], PINNED_ORDER_8_42_0);
});
const PINNED_ORDER_8_42_0 = [3, 2, 7, 0, 6, 5, 1, 4];

test('shuffledOrder is close to uniform: every block lands first about equally often', () => {
  const n = 5, epochs = 5000;
  const counts = new Array<number>(n).fill(0);
  for (let e = 0; e < epochs; e++) counts[shuffledOrder(n, 1, e)[0]]++;
  const expected = epochs / n;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 20, `chi-square ${chi2.toFixed(1)} for counts ${counts.join(', ')} (4 d.o.f.; 20 is p < 0.001)`);
});

test('batch(epoch, step): rows are dataset blocks in the epoch order, targets shifted by one', () => {
  const ds = toyDataset();
  const loader = new Loader(ds, { batchSize: 3, seed: 5 });
  const b = loader.batch(2, 1);
  assert.equal(b.B, 3);
  assert.equal(b.T, 4);
  assert.equal(b.tokens.length, 12);
  assert.deepEqual([...b.blocks], [...shuffledOrder(10, 5, 2).slice(3, 6)]);
  for (let r = 0; r < b.B; r++) {
    const blk = b.blocks[r];
    assert.deepEqual([...b.tokens.subarray(r * 4, r * 4 + 4)], [0, 1, 2, 3].map((p) => 4 * blk + p));
    assert.deepEqual([...b.targets.subarray(r * 4, r * 4 + 4)], [1, 2, 3, 4].map((p) => 4 * blk + p));
  }
});

test("last partial batch: 'drop' skips it, 'keep' yields a smaller one; 'keep' covers every block once per epoch", () => {
  const ds = toyDataset(10);
  const drop = new Loader(ds, { batchSize: 4, seed: 1 });
  assert.equal(drop.stepsPerEpoch, 2);
  assert.throws(() => drop.batch(0, 2), /step must be an integer in \[0, 2\)/);
  const keep = new Loader(ds, { batchSize: 4, seed: 1, lastBatch: 'keep' });
  assert.equal(keep.stepsPerEpoch, 3);
  const batches = [...keep.batches({ epoch: 0, step: 0 })];
  assert.deepEqual(batches.map((b) => b.B), [4, 4, 2]);
  assert.equal(batches[2].tokens.length, 2 * 4);
  const seen = batches.flatMap((b) => [...b.blocks]).sort((x, y) => x - y);
  assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => i));
  assert.throws(() => new Loader(toyDataset(3), { batchSize: 4 }), /toy has 3 blocks of 4 tokens, fewer than batchSize=4/);
  assert.equal(new Loader(toyDataset(3), { batchSize: 4, lastBatch: 'keep' }).stepsPerEpoch, 1);
});

test('stateless resume: batches from (epoch, step) equal the tail of an uninterrupted run, from a fresh loader', () => {
  const ds = toyDataset(10);
  const full: Batch[] = [...new Loader(ds, { batchSize: 3, seed: 9 }).batches({ epoch: 0, step: 0 }, 3)];
  assert.equal(full.length, 9);
  const resumed = [...new Loader(ds, { batchSize: 3, seed: 9 }).batches({ epoch: 1, step: 2 }, 3)];
  assert.deepEqual(resumed, full.slice(5));
  const loader = new Loader(ds, { batchSize: 3, seed: 9 });
  assert.deepEqual(loader.position(5), { epoch: 1, step: 2 });
  // Asking out of order (as concurrent models would) gives the same batches.
  assert.deepEqual(loader.batch(2, 0), full[6]);
  assert.deepEqual(loader.batch(0, 1), full[1]);
  assert.deepEqual(loader.batch(2, 0), full[6]);
});

test('shuffle=false keeps file order (evaluation); bad options are refused by name', () => {
  const ds = toyDataset(5);
  const evalLoader = new Loader(ds, { batchSize: 2, shuffle: false, lastBatch: 'keep' });
  assert.deepEqual([...evalLoader.batches()].flatMap((b) => [...b.blocks]), [0, 1, 2, 3, 4]);
  assert.throws(() => new Loader(ds, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => new Loader(ds, { batchSize: 1, seed: -1 }), /seed must be an integer/);
  assert.throws(() => new Loader(ds, { batchSize: 1, lastBatch: 'pad' as never }), /lastBatch must be 'drop' or 'keep', got "pad"/);
  assert.throws(() => evalLoader.batch(-1, 0), /epoch must be an integer/);
});
