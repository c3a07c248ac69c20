/**
 * The simulator's copies are the executor's: per task, the bytes a real job's device reports copying equal the
 * plan's parameter bytes plus from-plans' task bytes (tied embeddings, clipping or not), and a whole job on one
 * device — shard cache and prefetch on — moves the bytes, hits the cache and uses the prefetches the simulator
 * predicts for the same plans.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, JobResult, TrainOptions } from '../../src/hydra/api.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { CONSTANT_LR } from '../../src/optim/schedule.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { gradInBytes, simShards, workloadFromPlans } from '../../src/sim/from-plans.js';
import { simulate } from '../../src/sim/engine.js';
import { TINY, tinyTask } from '../hydra/helpers.js';

const tasks = () => [tinyTask('clipped', { steps: 3 }), tinyTask('unclipped', { seed: 2, steps: 3, clipNorm: 0 })];
const budget = 90_000; // cuts both models into 3 shards
const planned = (r: JobResult) =>
  r.models.map((m, i) => {
    const rt = buildRuntime(buildGpt2(TINY), m.plan.shards, { optimizer: ADAMW_DEFAULTS, schedule: CONSTANT_LR, clipNorm: tasks()[i].clipNorm!, totalSteps: 3, seed: 0 }, m.plan.B, m.plan.T);
    return { id: m.name, plan: m.plan, steps: 3, clipping: tasks()[i].clipNorm! > 0, gradInBytes: gradInBytes(rt) };
  });

test('from-plans: every task copies the plan\'s parameter bytes plus its task bytes (shared gradients in, grads out)', async () => {
  const ends: Extract<HydraEvent, { type: 'task-end' }>[] = [];
  const opts: TrainOptions = { devices: 'js:2', deviceMemory: budget, planDir: null, prefetch: false, shardCache: false };
  const r = await train(tasks(), { ...opts, onEvent: (e) => void (e.type === 'task-end' && ends.push(e)) });
  assert.ok(r.models.every((m) => m.plan.shards.length >= 2), 'both models are sharded');
  const shards = new Map(planned(r).map((m) => [m.id, simShards(m.plan, m)]));
  assert.ok(planned(r)[0].gradInBytes[0] > 0, 'the tied embedding\'s gradient comes in to shard 0');
  assert.equal(ends.length, 2 * 3 * (2 * r.models[0].plan.shards.length - 1));
  for (const e of ends) {
    const s = shards.get(e.model)![e.shard];
    assert.equal(e.bytesIn + e.bytesOut, s.paramBytes + s.taskBytes![e.kind]!, `${e.model} ${e.kind}${e.shard}`);
  }
});

test('from-plans: on one device with the shard cache and prefetch, the simulator moves the executor\'s bytes and hits its cache', async () => {
  // A budget with room to cache shards beside the running task; model-lrtf runs the models one after the other in
  // either order (the executor starts the first while the second is still being set up), so the copies are the same.
  const budget = 120_000;
  const r = await train(tasks(), { devices: 'js:1', deviceMemory: budget, planDir: null, policy: 'model-lrtf', deviceState: false });
  const sim = simulate(workloadFromPlans('tiny', planned(r), 1, budget, 1e9), { policy: 'model-lrtf' });
  assert.ok(r.shardCache!.hits > 0 && r.prefetch.usedBytes > 0, 'the job used its cache and its prefetches');
  assert.equal(sim.transfers.resident, r.shardCache!.hits, 'cache hits');
  assert.equal(sim.transfers.prefetchDropped, 0);
  assert.equal(r.prefetch.droppedBytes, 0);
  assert.equal(sim.transfers.bytes + sim.transfers.taskBytes, r.bytesMoved, 'bytes moved');
});
