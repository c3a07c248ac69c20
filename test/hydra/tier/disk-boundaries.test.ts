/**
 * Boundary activations on disk (tier/disk-boundaries.ts), on their own: a model's tasks in their order (forward up,
 * FL, backward down, then an evaluation) through two activation slots and a real scratch file. Every task sees the
 * content the task before wrote; the top two boundaries are never written (the backward finds them in the slots);
 * each lower one is written once by its forward and read once by its backward, read ahead while the backward above it
 * runs — the traffic the placement predicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBoundaries } from '../../../src/hydra/tier/disk-boundaries.js';
import { ScratchFile } from '../../../src/hydra/tier/scratch-file.js';

const SHARDS = 6, LAST = SHARDS - 1, N = 300;

/** What the task of `kind` on shard k writes into boundary k + 1 at `step`: distinct per task. */
const content = (step: number, kind: string, k: number) => Float32Array.from({ length: N }, (_, i) => step * 1000 + (kind === 'E' ? 500 : 0) + k * 10 + i / N);

async function setUp(onDisk: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-bounds-'));
  const file = await ScratchFile.create(dir);
  const offsets = new Map(onDisk.map((k, i) => [k, i * 4096]));
  const slots = [new SharedArrayBuffer(N * 4), new SharedArrayBuffer(N * 4)];
  const io = { read: 0, written: 0 };
  const lengths = Array.from({ length: SHARDS }, (_, k) => (k === 0 ? 0 : N));
  return { dir, file, io, slots, b: new DiskBoundaries('m', LAST, file, offsets, { buffers: slots, bases: [0, 0] }, lengths, io) };
}

test('boundary activations on disk: each task reads what the one before wrote; the top two never touch the disk, each lower one is written once and read once per step (read ahead)', async () => {
  const { dir, file, io, slots, b } = await setUp([1, 2, 3, 4, 5]);
  const view = (pairs: [number, number][], k: number) => {
    const p = pairs.find(([x]) => x === k);
    assert.ok(p, `boundary ${k} has a slot`);
    return new Float32Array(slots[p[1]], 0, N);
  };
  // Two steps, then an evaluation pass.
  for (let step = 0; step < 2; step++) {
    const before = { ...io };
    for (let k = 0; k < LAST; k++) {
      const pairs = await b.before('F', k, true);
      if (k >= 1) assert.deepEqual(view(pairs, k), content(step, 'F', k - 1), `F${k} input at step ${step}`);
      assert.notEqual(pairs.find(([x]) => x === k)?.[1], pairs.find(([x]) => x === k + 1)?.[1], 'input and output in different slots');
      view(pairs, k + 1).set(content(step, 'F', k));
      b.after();
    }
    const fl = await b.before('FL', LAST, true);
    assert.deepEqual(view(fl, LAST), content(step, 'F', LAST - 1), 'FL input');
    b.after();
    for (let k = LAST - 1; k >= 0; k--) {
      const pairs = await b.before('B', k, true);
      if (k >= 1) assert.deepEqual(view(pairs, k), content(step, 'F', k - 1), `B${k} input at step ${step}`);
      else assert.deepEqual(pairs, []);
      if (k === LAST - 1) {
        // While B4 runs, B3's input is read ahead into the other slot.
        const read = io.read;
        await b.settle();
        assert.equal(io.read - read, N * 4, 'act(3) read ahead during B4');
      }
      b.after();
    }
    await b.settle();
    // Boundaries 1, 2, 3 (below the top two): one write and one read each.
    assert.deepEqual({ read: io.read - before.read, written: io.written - before.written }, { read: 3 * N * 4, written: 3 * N * 4 }, `traffic of step ${step}`);
  }
  const before = { ...io };
  for (let k = 0; k <= LAST; k++) {
    const pairs = await b.before('E', k, true);
    if (k >= 1) assert.deepEqual(view(pairs, k), content(9, 'E', k - 1), `E${k} input`);
    if (k < LAST) view(pairs, k + 1).set(content(9, 'E', k));
    b.after();
  }
  await b.settle();
  assert.deepEqual(io, before, 'an evaluation pass stays in the slots');
  await file.remove();
  assert.deepEqual(readdirSync(dir), []);
});

test('boundary activations on disk with read-ahead off (prefetch: false): a backward reads nothing for the next one; each input is read when its task comes, same content, same traffic', async () => {
  const { dir, file, io, slots, b } = await setUp([1, 2, 3, 4, 5]);
  const view = (pairs: [number, number][], k: number) => new Float32Array(slots[pairs.find(([x]) => x === k)![1]], 0, N);
  for (let k = 0; k < LAST; k++) {
    const pairs = await b.before('F', k, false);
    view(pairs, k + 1).set(content(0, 'F', k));
    b.after();
  }
  await b.before('FL', LAST, false);
  b.after();
  for (let k = LAST - 1; k >= 1; k--) {
    const read = io.read;
    const pairs = await b.before('B', k, false);
    // B4 finds act(4) in a slot; B3, B2, B1 each read their own input now, and nothing more.
    assert.equal(io.read - read, k === LAST - 1 ? 0 : N * 4, `B${k} reads its input when it comes`);
    await b.settle();
    assert.equal(io.read - read, k === LAST - 1 ? 0 : N * 4, `nothing read ahead while B${k} runs`);
    assert.deepEqual(view(pairs, k), content(0, 'F', k - 1), `B${k} input`);
    b.after();
  }
  await b.settle();
  assert.deepEqual(io, { read: 3 * N * 4, written: 3 * N * 4 }, 'the traffic of a step with read-ahead');
  await file.remove();
  assert.deepEqual(readdirSync(dir), []);
});

test('boundary activations on disk: a read of content neither in a slot nor on disk is refused as a bookkeeping error', async () => {
  const { file, b } = await setUp([3, 4, 5]);
  await assert.rejects(b.before('B', 3, true), /boundary activation 3 of 'm' is neither in an activation slot nor on disk/);
  await file.remove();
});
