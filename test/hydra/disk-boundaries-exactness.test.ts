/**
 * Boundary activations on disk, end to end through train(): the host cap set to the least the job can run with (its
 * floor: every movable byte on disk), so that, beyond every moment and shard, the six-shard model's boundary
 * activations go to disk too — interleaved with another model on two one-thread cpu devices, with an evaluation pass
 * (its activations pass through the same slots). Losses, evaluations and every weight end bitwise equal to the same
 * job all in RAM; the host tier stays within its cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import type { TrainOptions } from '../../src/hydra/api.js';
import { sameBits, syntheticSource } from './helpers.js';
import { cpuSkip, DISK_DEVICE_BUDGET, diskTasks, jobHostFloor } from './disk-tasks.js';

const tasks = [{ ...diskTasks[0], eval: syntheticSource(37, 2, 8, 1, 5) }, diskTasks[1]];
const base: TrainOptions = { devices: 'cpu:2x1', deviceMemory: DISK_DEVICE_BUDGET, planDir: null };

test('boundary activations on disk (host cap at the floor, six shards, interleaved with another model on cpu:2x1, with an evaluation): bitwise equal to the job all in RAM', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const cap = await jobHostFloor(tasks, base);
  const spill = mkdtempSync(join(tmpdir(), 'hydra-bounds-'));
  const disk = await train(tasks, { ...base, hostMemory: cap, spillDir: spill });
  const ram = await train(tasks, { ...base, spillDir: null });
  const focus = disk.models.find((m) => m.name === 'focus')!;
  const shards = focus.plan.shards.length;
  assert.ok(shards >= 6, `focus has ${shards} shards`);
  // A top run of boundaries, at least one below the top two (written by its forward, read back by its backward).
  const bounds = focus.placement?.diskBoundaries ?? [];
  assert.ok(bounds.length >= 3, `boundaries on disk: ${JSON.stringify(focus.placement)}`);
  assert.deepEqual(bounds, Array.from({ length: bounds.length }, (_, i) => shards - bounds.length + i), 'from the top down');
  for (const m of disk.models) {
    const ref = ram.models.find((x) => x.name === m.name)!;
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    assert.deepEqual(m.evals, ref.evals, `${m.name}: evaluations`);
    for (const [name, w] of ref.weights) assert.ok(sameBits(w.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  assert.ok(focus.evals.length > 0, 'the evaluation ran');
  assert.ok(disk.hostTier!.highWater <= cap, `host high-water ${disk.hostTier!.highWater} > cap ${cap}`);
  for (const d of disk.devices) assert.ok(d.highWater <= DISK_DEVICE_BUDGET, `device ${d.id} high-water ${d.highWater}`);
  assert.deepEqual(readdirSync(spill), [], 'scratch files are removed at the end of the job');
});
