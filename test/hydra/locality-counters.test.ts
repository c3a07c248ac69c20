/** train() reports what its prefetch hints were worth: every task after a hint follows or breaks it, and refusals say why. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent } from '../../src/hydra/api.js';
import { tinyTask } from './helpers.js';

test('locality counters: hints judged once per task, prefetches refused with a reason, and model-lrtf never breaks its hint', async () => {
  const tasks = () => ['a', 'b', 'c'].map((n, i) => tinyTask(n, { seed: i }));
  for (const policy of ['sharded-lrtf', 'model-lrtf'] as const) {
    let starts = 0;
    const r = await train(tasks(), { devices: 'js:2', deviceMemory: '64MiB', planDir: null, policy, onEvent: (e: HydraEvent) => void (e.type === 'task-start' && starts++) });
    const l = r.locality!;
    // A hint is judged by the device's next task (or when another device runs it); the last hint of each device may stay unjudged.
    assert.ok(l.hintsFollowed + l.hintsBroken <= starts && l.hintsFollowed + l.hintsBroken + l.noHint >= starts - r.devices.length, `${policy}: ${JSON.stringify(l)} for ${starts} tasks`);
    assert.ok(l.hintsFollowed > 0, `${policy}: some hints come true`);
    assert.ok(l.hintsTakenElsewhere <= l.hintsBroken);
    // A task of shard 0 steps the model (clipped): the model's own next step is never prefetched beside it.
    assert.ok((l.prefetchRefused.unsafe ?? 0) > 0, `${policy}: ${JSON.stringify(l.prefetchRefused)}`);
    if (policy === 'model-lrtf') assert.equal(l.hintsBroken, 0, 'a device keeps its model: its hint is always its next task');
  }
});
