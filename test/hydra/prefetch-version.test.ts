/**
 * A prefetch copies a shard's parameters before its task runs. If a step lands on those parameters in between (a
 * backward on another device), the copy is stale and must not be used. The device worker keeps the parameter
 * version a prefetch was taken at and drops it when the task arrives at another version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevices } from '../../src/hydra/run/device-pool.js';
import { parseDevices } from '../../src/hydra/run/device-spec.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { initModel } from '../../src/nn/init.js';
import { buildGpt2, gpt2Arch } from '../../src/nn/gpt2.js';
import type { ShardPlan } from '../../src/hydra/api.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { TINY } from './helpers.js';

const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 1, seed: 1 };
const B = 2, T = 8;
const layers = TINY.n_layer + 3;
const shard = (from: number, to: number): ShardPlan => ({ from, to, layerNames: [], paramBytes: 0, inputBytes: 0, peakBytes: { forward: 0, train: 0 }, seconds: { forward: 0, backward: 0 } });
const shards = [shard(0, 2), shard(2, layers)];

/** The tiny model's runtime and host-tier state: initialised (seed 1), its batch's tokens set. */
function tinyModel() {
  const rt = buildRuntime(buildGpt2(TINY), shards, recipe, B, T);
  const buffers = allocateHostState(rt, new HostTier(), 'm');
  const views = viewsOf(buffers);
  for (const [n, t] of initModel(rt.model, 1)) views.param(n).set(t.data);
  views.tokens().set(Int32Array.from({ length: B * T }, (_, i) => (i * 5) % TINY.vocab_size));
  return { rt, buffers, views };
}

test('device worker: a prefetch taken before a step is dropped; one at the current version is used', async () => {
  const { rt, buffers, views } = tinyModel();
  // Without the shard cache, so that every use of shard 0 here is a prefetch or a copy from the host.
  const [dev] = await startDevices(parseDevices('js:1'), 64 << 20, false);
  try {
    dev.send({ type: 'register', modelId: 'm', arch: gpt2Arch(TINY), shards, recipe, B, T, buffers });
    const f0 = { kind: 'F' as const, shard: 0, step: 0 };
    const boundary = () => Float32Array.from(views.act(1));

    // Run F0 while prefetching F0's own parameters for the next task, at version 0.
    await dev.run('m', f0, 0, { modelId: 'm', shard: 0, paramsVersion: 0 });
    const before = boundary();
    // A step lands on shard 0's parameters (as a backward on another device would), then F0 runs at version 1.
    const wpe = views.param('wpe.weight');
    for (let i = 0; i < wpe.length; i++) wpe[i] += 0.5;
    const stale = await dev.run('m', f0, 1, { modelId: 'm', shard: 0, paramsVersion: 1 });
    assert.equal(stale.outcome.prefetchedBytes, 0, 'the stale prefetch must not be used');
    const after = boundary();
    assert.notDeepEqual(after, before, 'the stepped parameters must be seen: the stale prefetch was dropped');
    // Control: at an unchanged version the prefetch taken by the run above (at version 1) is used — and is current.
    const current = await dev.run('m', f0, 1, { modelId: 'm', shard: 0, paramsVersion: 1 });
    assert.ok(current.outcome.prefetchedBytes > 0, 'a prefetch at the current version is used');
    assert.deepEqual(boundary(), after);
    // Reference: the same task loading from the host (the pending prefetch, taken at version 1, is refused at 2).
    const fromHost = await dev.run('m', f0, 2, null);
    assert.equal(fromHost.outcome.prefetchedBytes, 0);
    assert.deepEqual(boundary(), after);
    // Every prefetched copy is counted: three prefetches of shard 0, one used, two dropped (stale, refused).
    const shard0 = rt.shardParams[0].reduce((n, p) => n + p.n * 4, 0);
    assert.deepEqual(dev.prefetch, { copiedBytes: 3 * shard0, usedBytes: shard0, droppedBytes: 2 * shard0, failures: 0 });
  } finally {
    await dev.stop();
  }
});

test('device worker: a resident shard is used at its version and refused after a step (the shard cache)', async () => {
  const { rt, buffers, views } = tinyModel();
  const [dev] = await startDevices(parseDevices('js:1'), 64 << 20);
  try {
    dev.send({ type: 'register', modelId: 'm', arch: gpt2Arch(TINY), shards, recipe, B, T, buffers });
    const f0 = { kind: 'F' as const, shard: 0, step: 0 };
    const boundary = () => Float32Array.from(views.act(1));
    const shard0 = rt.shardParams[0].reduce((n, p) => n + p.n * 4, 0);
    // F0 copies shard 0 in and leaves it resident (F steps nothing); a prefetch of that same shard is not made.
    const first = await dev.run('m', f0, 0, { modelId: 'm', shard: 0, paramsVersion: 0 });
    assert.equal(first.outcome.prefetchedBytes, 0);
    assert.deepEqual(first.resident, [{ modelId: 'm', shard: 0, version: 0 }]);
    const before = boundary();
    const again = await dev.run('m', f0, 0, null);
    assert.equal(again.outcome.prefetchedBytes, shard0, 'resident at the current version: nothing copied in');
    assert.equal(again.cache.hits, 1);
    assert.deepEqual(boundary(), before);
    // A step lands on shard 0 (another device's backward): the resident copy is stale and must not be used.
    const wpe = views.param('wpe.weight');
    for (let i = 0; i < wpe.length; i++) wpe[i] += 0.5;
    const stale = await dev.run('m', f0, 1, null);
    assert.equal(stale.outcome.prefetchedBytes, 0);
    assert.equal(stale.cache.stale, 1);
    assert.notDeepEqual(boundary(), before, 'the stepped parameters are seen');
    assert.deepEqual(dev.prefetch.copiedBytes, 0, 'no prefetch was needed');
  } finally {
    await dev.stop();
  }
});
