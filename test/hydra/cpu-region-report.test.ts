/**
 * A cpu device with a budget serves its buffers from one reserved region (native/arena.h); buffers the region has no
 * room for (fragmentation) take fresh memory outside it. A job reports that count per device, so a user can see the
 * cost the region exists to avoid; devices without such a region report none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import { cpuSkip } from './disk-tasks.js';
import { tinyTask } from './helpers.js';

const tasks = () => [tinyTask('a'), tinyTask('b', { seed: 3 })];

test('train(): every cpu device reports the buffers that fell outside its memory region; js devices, which have none, report nothing', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const cpu = await train(tasks(), { devices: 'cpu:2x1', deviceMemory: '8MiB', planDir: null });
  assert.equal(cpu.devices.length, 2);
  // 8 MiB of region for a few hundred KiB of live buffers: nothing falls outside.
  for (const d of cpu.devices) assert.equal(d.outsideRegion, 0, `cpu device ${d.id}`);
  const js = await train(tasks(), { devices: 'js:1', deviceMemory: '8MiB', planDir: null });
  assert.equal(js.devices[0].outsideRegion, undefined, 'a js device has no region');
});
