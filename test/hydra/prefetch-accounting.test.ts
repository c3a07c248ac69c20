/**
 * Prefetched copies are host↔device traffic like any other: a job's bytesMoved counts them (used or dropped), and a
 * prefetch that does not fit beside the running task — swallowed, since the task loads its parameters itself — is
 * counted and reported rather than lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import { startDevices } from '../../src/hydra/run/device-pool.js';
import { parseDevices } from '../../src/hydra/run/device-spec.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { initModel } from '../../src/nn/init.js';
import { buildGpt2, gpt2Arch } from '../../src/nn/gpt2.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import type { ShardPlan, TrainOptions } from '../../src/hydra/api.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { tinyTask } from './helpers.js';

test('train(): bytesMoved counts every prefetched copy — with prefetch on it is the prefetch-off figure plus the dropped bytes', async () => {
  const tasks = [tinyTask('a', { steps: 3 }), tinyTask('b', { seed: 2, steps: 3 })];
  // One device and round-robin: the same task sequence with and without prefetch.
  const opts: TrainOptions = { devices: 'js:1', deviceMemory: 90_000, policy: 'round-robin', planDir: null };
  let taskBytes = 0, usedByTasks = 0;
  const on = await train(tasks, {
    ...opts,
    onEvent: (e) => {
      if (e.type !== 'task-end') return;
      taskBytes += e.bytesIn + e.bytesOut;
      usedByTasks += e.prefetchedBytes;
    },
  });
  const off = await train(tasks, { ...opts, prefetch: false });
  assert.ok(on.models.every((m) => m.plan.shards.length >= 2), 'the models are sharded');
  const p = on.prefetch;
  assert.ok(p.usedBytes > 0, 'prefetches were used');
  assert.equal(p.copiedBytes, p.usedBytes + p.droppedBytes, 'every prefetched byte is used or dropped');
  assert.equal(p.usedBytes, usedByTasks, 'the tasks report the prefetched bytes they used');
  assert.equal(on.bytesMoved, taskBytes + p.copiedBytes);
  assert.equal(off.prefetch.copiedBytes, 0);
  assert.equal(on.bytesMoved, off.bytesMoved + p.droppedBytes, 'prefetching moves what loading would have, plus what it dropped');
});

test('device worker: a prefetch that does not fit beside the running task is counted as a failure; the task still runs', async () => {
  // A large embedding (shard 0) and a small block (shard 1): the block's forward fits in the budget, the embedding not.
  const config: Gpt2Config = { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 4000, dropout: 0, tie: false };
  const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 1, seed: 1 };
  const B = 2, T = 8;
  const shard = (from: number, to: number): ShardPlan => ({ from, to, layerNames: [], paramBytes: 0, inputBytes: 0, peakBytes: { forward: 0, train: 0 }, seconds: { forward: 0, backward: 0 } });
  const shards = [shard(0, 1), shard(1, 2), shard(2, 4)];
  const rt = buildRuntime(buildGpt2(config), shards, recipe, B, T);
  const buffers = allocateHostState(rt, new HostTier(), 'm');
  const views = viewsOf(buffers);
  for (const [n, t] of initModel(rt.model, 1)) views.param(n).set(t.data);
  const embedBytes = rt.shardParams[0].reduce((n, p) => n + p.n * 4, 0);
  const budget = 100_000;
  assert.ok(embedBytes > budget, 'shard 0 does not fit the budget');
  const [dev] = await startDevices(parseDevices('js:1'), budget);
  try {
    dev.send({ type: 'register', modelId: 'm', arch: gpt2Arch(config), shards, recipe, B, T, buffers });
    const report = await dev.run('m', { kind: 'F', shard: 1, step: 0 }, 0, { modelId: 'm', shard: 0, paramsVersion: 0 });
    assert.equal(report.prefetch.failures, 1, 'the prefetch that did not fit is counted');
    assert.ok(report.prefetch.copiedBytes < embedBytes, 'it was cut short');
  } finally {
    await dev.stop();
  }
  assert.equal(dev.prefetch.droppedBytes, dev.prefetch.copiedBytes, 'what it did copy is dropped when the device stops');
});
