/**
 * Models of one job have different plans (a batch-8 model's shards are tighter than a batch-1 model's). A device
 * prefetches the next task's shard beside the running task, so the prefetch must fit the running task's plan: this
 * sweep runs both on one device at budgets from the smallest that holds them, with prefetch on, and checks that
 * nothing runs out of memory and no prefetch was cut short for want of room (the device worker counts those: it
 * swallows them, since the task then loads its parameters itself).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, TrainTask } from '../../src/hydra/api.js';
import { LayerTooLargeError } from '../../src/hydra/plan/partitioner.js';
import { layerFloor, modelBytes } from '../../src/hydra/plan/memory-check.js';
import { buildArch } from '../../src/nn/families.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { syntheticSource, tinyTask } from './helpers.js';

const model: Gpt2Config = { n_layer: 4, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 97, dropout: 0, tie: true };
const tasks: TrainTask[] = [
  tinyTask('big-batch', { model: gpt2Arch(model), train: syntheticSource(97, 8, 16, 4), steps: 3 }),
  tinyTask('small-batch', { model: gpt2Arch(model), seed: 2, train: syntheticSource(97, 1, 16, 4), steps: 3 }),
];

test('train(): a prefetch never pushes another model\'s running task over the device budget', async () => {
  let min = 0;
  // At the analytic floor (a lower bound, checked before planning) the pilot runs and the partitioner names the minimum.
  const floor = Math.max(...tasks.flatMap((t) => modelBytes(t.name, buildArch(t.model), t.train.B, t.train.T, 2).layers.map(layerFloor)));
  await train(tasks, { devices: 'js:1', deviceMemory: floor, planDir: null }).then(
    () => assert.fail('the analytic floor should be too small'),
    (e: unknown) => {
      assert.ok(e instanceof LayerTooLargeError && e.minBudget !== undefined);
      min = e.minBudget;
    },
  );
  let prefetched = 0, crossModel = 0;
  for (let budget = min; budget <= 2.2 * min; budget += Math.ceil(min / 8)) {
    let last: HydraEvent | undefined;
    const r = await train(tasks, {
      devices: 'js:1', deviceMemory: budget, planDir: null,
      onEvent: (e) => {
        if (e.type !== 'task-end') return;
        prefetched += e.prefetchedBytes;
        if (last?.type === 'task-end' && last.model !== e.model && e.prefetchedBytes > 0) crossModel++;
        last = e;
      },
    });
    for (const m of r.models) assert.equal(m.status, 'done', `budget ${budget}: ${m.name} ${m.status}: ${m.reason ?? ''}`);
    assert.equal(r.prefetch.failures, 0, `budget ${budget}: ${r.prefetch.failures} prefetches did not fit beside the running task`);
  }
  assert.ok(prefetched > 0, 'prefetch should still happen');
  assert.ok(crossModel > 0, 'some prefetches should cross models (the case under test)');
});
