/** `hydra train --dry-run`'s placement (job/preview.ts): where the state would go and what each step reads and writes, or why the job would be refused — nothing allocated, nothing trained. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { previewPlacement } from '../../src/hydra/job/preview.js';
import { DISK_DEVICE_BUDGET, DISK_HOST_CAP, diskTasks, jobHostFloor } from './disk-tasks.js';

test('placement preview: shards and moments on disk under a small cap, bytes per step; at the floor boundary activations too; a cap below the floor would be refused', async () => {
  const spill = mkdtempSync(join(tmpdir(), 'hydra-preview-'));
  const base = { devices: 'js:2', deviceMemory: DISK_DEVICE_BUDGET, spillDir: spill, planDir: null };
  const lines = await previewPlacement(diskTasks, { ...base, hostMemory: DISK_HOST_CAP });
  assert.match(lines.join('\n'), /^placement: .* in RAM, .* on disk; per step .* read, .* written$/m);
  // What was chosen and why.
  assert.match(lines.join('\n'), /^ {2}all in RAM would be .*, over the host cap .*: what is read least per byte freed goes to disk/m);
  assert.match(lines.join('\n'), /^ {2}optimizer moments of \d+ parameters on disk/m);
  assert.match(lines.join('\n'), /^ {2}parameters and gradients of \d+ shards on disk .* staged through a pool of 6 host slots .* \(3 per device for 2 devices/m);
  assert.match(lines.join('\n'), /^ {2}focus: .* RAM, .* disk; .*all on disk \d+ \(shards [0-9, ]+\); boundary activations on disk 0 of 5; per step .* read, .* written$/m);
  assert.ok(!lines.some((l) => l.startsWith('would be refused')), lines.join('\n'));
  // At the job's floor the six-shard model's boundary activations go to disk too, from the top down.
  const floor = await previewPlacement(diskTasks, { ...base, hostMemory: await jobHostFloor(diskTasks, base) });
  assert.match(floor.join('\n'), /^ {2}boundary activations of 5 boundaries on disk .* so they go last, from the top down\), through 2 host slots per model .* 3 are written by the forward and read once by the backward$/m);
  assert.match(floor.join('\n'), /^ {2}focus: .*; boundary activations on disk 5 of 5 \(boundaries 1, 2, 3, 4, 5; 2 slots of 1\.0 KiB\); per step .* read, .* written$/m);
  assert.ok(!floor.some((l) => l.startsWith('would be refused')), floor.join('\n'));
  const refused = await previewPlacement(diskTasks, { ...base, hostMemory: 100_000 });
  assert.match(refused[refused.length - 1], /^would be refused: preflight: the job needs at least .* in RAM/);
  assert.deepEqual(readdirSync(spill), [], 'nothing written');
});
