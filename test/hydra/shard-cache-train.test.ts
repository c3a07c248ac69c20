/**
 * The device shard cache inside train(): a shard that stays on its device between tasks must change nothing but the
 * copies — the same bits as a run that copies every task's shard in — and it must live inside the budget: at every
 * budget from the smallest that holds the models, the device high-water mark stays within it while the cache is used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, TrainTask } from '../../src/hydra/api.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { syntheticSource, tinyTask } from './helpers.js';
import { assertSameBits, minBudget } from './train-checks.js';

const model: Gpt2Config = { n_layer: 3, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 37, dropout: 0.1, tie: true };
const tasks = (): TrainTask[] => [
  tinyTask('clipped', { model: gpt2Arch(model), train: syntheticSource(37, 4, 8, 2), eval: syntheticSource(37, 4, 8, 2, 5), epochs: 2, steps: undefined }),
  tinyTask('unclipped', { model: gpt2Arch(model), seed: 2, clipNorm: 0, train: syntheticSource(37, 4, 8, 4, 3), steps: 4 }),
];

test('train(): shards resident across tasks end bitwise equal to shards copied in every task (one and two devices)', async () => {
  const budget = Math.round(1.5 * (await minBudget(tasks())));
  for (const devices of ['js:1', 'js:2']) {
    const cached = await train(tasks(), { devices, deviceMemory: budget, planDir: null });
    const copied = await train(tasks(), { devices, deviceMemory: budget, planDir: null, shardCache: false });
    assert.ok(cached.models.every((m) => m.plan.shards.length >= 2), 'the models are sharded');
    assertSameBits(cached, copied, devices);
    assert.ok(cached.shardCache!.hits > 0, `${devices}: the cache was used (${JSON.stringify(cached.shardCache)})`);
    assert.equal(copied.shardCache!.hits, 0);
  }
});

// Bytes moved depend on the task order, and the default policy's order depends on timing (measured task seconds, and
// when a model set up behind the running ones joins): two runs of it can interleave the models differently, and an
// order that switches models every task leaves the cache few hits. So the two runs compared here share one order,
// checked: one device, every model set up first, round-robin (which weighs no time).
test('train(): on the same task order, the shard cache moves fewer bytes than copying every task', async () => {
  const budget = Math.round(1.5 * (await minBudget(tasks())));
  const run = async (shardCache: boolean) => {
    const order: string[] = [];
    const onEvent = (e: HydraEvent) => void (e.type === 'task-end' && order.push(`${e.model}:${e.kind}${e.shard}@${e.step}`));
    const r = await train(tasks(), { devices: 'js:1', deviceMemory: budget, planDir: null, policy: 'round-robin', overlapSetUp: false, shardCache, onEvent });
    return { r, order };
  };
  const cached = await run(true), copied = await run(false);
  assert.deepEqual(cached.order, copied.order, 'both runs ran the tasks in the same order');
  assertSameBits(cached.r, copied.r, 'round-robin');
  assert.ok(cached.r.shardCache!.hits > 0, `the cache was used (${JSON.stringify(cached.r.shardCache)})`);
  assert.ok(cached.r.bytesMoved < copied.r.bytesMoved, `fewer bytes moved (${cached.r.bytesMoved} vs ${copied.r.bytesMoved})`);
});

test('train(): at every budget the device high-water mark stays within it, and the cache is used', async () => {
  const min = await minBudget(tasks());
  let hits = 0, evictions = 0, budgets = 0;
  const reference = await train(tasks(), { devices: 'js:2', deviceMemory: 4 * min, planDir: null, shardCache: false });
  for (let budget = min; budget <= 3 * min; budget += Math.ceil(min / 2)) {
    const r = await train(tasks(), { devices: 'js:2', deviceMemory: budget, planDir: null });
    for (const d of r.devices) assert.ok(d.highWater <= budget, `budget ${budget}: device ${d.id} reached ${d.highWater}`);
    assert.equal(r.prefetch.failures, 0, `budget ${budget}: a prefetch did not fit`);
    for (const [i, m] of r.models.entries()) assert.deepEqual(m.losses, reference.models[i].losses, `budget ${budget}: ${m.name}`);
    hits += r.shardCache!.hits;
    evictions += r.shardCache!.evictions;
    budgets++;
    assert.ok(r.shardCache!.hits > 0, `budget ${budget} (${(budget / min).toFixed(2)}× the minimum): no cache hit`);
  }
  assert.ok(budgets >= 5, `${budgets} budgets`);
  assert.ok(hits > 0 && evictions > 0, `the cache is used (${hits} hits) and under pressure (${evictions} evictions)`);
});
