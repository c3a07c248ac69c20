/**
 * Activation offload (TrainOptions.activations = 'offload', src/hydra/run/activation-stash.ts): forward tasks stash
 * what their shard's backward reads, backward tasks copy it back instead of recomputing. Shown here:
 * - at the executor, the backward tasks run fewer kernels (no forward) and training stays bitwise equal to training
 *   alone; each task's device peak stays within the partitioner's planned peaks (one plan serves both modes);
 * - through train(), every model of a sharded job on two devices is bitwise equal to training alone under every
 *   policy, the stash was granted and its backward tasks copied it in;
 * - a host cap too small for the stashes turns offload off (the job recomputes) and says why; a bad mode is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js.js';
import { createBackend } from '../../src/backend/index.js';
import { cpuSkipReason } from '../backend/helpers.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { initModel } from '../../src/nn/init.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { buildRuntime, type ModelRuntime } from '../../src/hydra/run/model-runtime.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import type { ModelPlacement } from '../../src/hydra/tier/placement.js';
import { runShardTask } from '../../src/hydra/run/shard-executor.js';
import { stashBytes, stashLayout } from '../../src/hydra/run/activation-stash.js';
import { shardPeak } from '../../src/hydra/plan/partitioner.js';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, PolicyName } from '../../src/hydra/api.js';
import { previewPlacement } from '../../src/hydra/job/preview.js';
import { TINY, sameBits, tinyTask, trainAlone } from './helpers.js';

const B = 2, T = 8;
const recipe: TrainRecipe = { optimizer: { ...ADAMW_DEFAULTS, lr: 1e-2 }, schedule: { warmupSteps: 1, decay: 'cosine', minRatio: 0.1 }, clipNorm: 0.05, totalSteps: 3, seed: 42 };
// embed | h.0 h.1 | h.2 ln_f | lm_head: the tied weight is used by the first and the last shard.
const SHARDS = [{ from: 0, to: 1 }, { from: 1, to: 3 }, { from: 3, to: 5 }, { from: 5, to: 6 }];

/** A backend that counts the matrix products it is asked for (a forward of a block runs several). */
function counting(be: Backend): { be: Backend; gemms: () => number } {
  let n = 0;
  const proxy = new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if ((prop === 'gemm' || prop === 'gemmBatched') && typeof v === 'function') return (...args: unknown[]) => (n++, v.apply(target, args));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { be: proxy, gemms: () => n };
}

async function trainShards(offload: boolean) {
  const raw = new JsBackend();
  const { be, gemms } = counting(raw);
  const rt = buildRuntime(buildGpt2({ ...TINY, vocab_size: 23 }), SHARDS, recipe, B, T);
  const placement = offload ? ({ home: new Map(), diskBoundaries: [], slotBytes: 0, stashBytes: stashBytes(rt) } as unknown as ModelPlacement) : undefined;
  const views = viewsOf(allocateHostState(rt, new HostTier(), 'm', placement));
  for (const [name, t] of initModel(rt.model, recipe.seed)) views.param(name).set(t.data);
  const losses: number[] = [];
  const peaks = { F: [] as number[], B: [] as number[] };
  let backwardGemms = 0;
  const n = SHARDS.length;
  for (let s = 0; s < recipe.totalSteps; s++) {
    for (let i = 0; i < B * T; i++) {
      views.tokens()[i] = (i * 7 + s * 3) % 23;
      views.targets()[i] = (i * 5 + s + 1) % 23;
    }
    for (let k = 0; k < n - 1; k++) {
      raw.resetHighWater();
      await runShardTask(be, rt, views, { kind: 'F', shard: k, step: s });
      peaks.F[k] = Math.max(peaks.F[k] ?? 0, raw.stats().highWater);
    }
    losses.push((await runShardTask(be, rt, views, { kind: 'FL', shard: n - 1, step: s })).loss!);
    for (let k = n - 2; k >= 0; k--) {
      raw.resetHighWater();
      const before = gemms();
      await runShardTask(be, rt, views, { kind: 'B', shard: k, step: s });
      backwardGemms += gemms() - before;
      peaks.B[k] = Math.max(peaks.B[k] ?? 0, raw.stats().highWater);
    }
    assert.equal(raw.stats().inUse, 0, 'every task frees what it allocated');
  }
  return { rt, losses, params: new Map(rt.params.map((p) => [p.spec.name, views.param(p.spec.name)])), backwardGemms, peaks };
}

test('offloaded activations: backward tasks skip the forward, training is bitwise equal, peaks stay within the plan', async () => {
  const recomputed = await trainShards(false);
  const offloaded = await trainShards(true);
  assert.deepEqual(offloaded.losses, recomputed.losses);
  for (const [name, v] of recomputed.params) assert.ok(sameBits(v, offloaded.params.get(name)!), `parameter ${name} differs`);
  assert.ok(offloaded.backwardGemms < recomputed.backwardGemms, `backward tasks ran ${offloaded.backwardGemms} matrix products offloaded vs ${recomputed.backwardGemms} recomputing`);
  const rt: ModelRuntime = offloaded.rt;
  // Shard 1 holds two blocks: its stash holds their saved tensors and the input of the inner one.
  const l1 = stashLayout(rt, 1);
  assert.ok(l1.entries.some((e) => e.key === null && e.layer === 2), 'the inner block\'s input is stashed');
  assert.ok(l1.elems > 2 * rt.boundaryLength[2], `shard 1's stash (${l1.elems} elements) holds more than its boundaries`);
  for (let k = 0; k < SHARDS.length - 1; k++) {
    const planned = await shardPeak(rt.model, recipe, B, T, SHARDS[k].from, SHARDS[k].to, true);
    assert.ok(offloaded.peaks.F[k] <= planned.forward, `F${k}: peak ${offloaded.peaks.F[k]} > planned ${planned.forward}`);
    assert.ok(offloaded.peaks.B[k] <= planned.train, `B${k}: peak ${offloaded.peaks.B[k]} > planned ${planned.train}`);
    if (stashLayout(rt, k).elems > 0) assert.ok(offloaded.peaks.F[k] > recomputed.peaks.F[k], `F${k} keeps what its backward reads until it is stashed`);
  }
});

const POLICIES: PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];
const tasks = [
  tinyTask('focus', { steps: 4 }),
  tinyTask('other', { seed: 1, steps: 3, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 } }),
];

for (const devices of ['js:2', 'cpu:2x1']) {
  test(`train() with activation offload on ${devices}: every model bitwise equal to training alone, under every policy`, async (t) => {
    const reference = async () => (devices.startsWith('js') ? new JsBackend() : createBackend('cpu', { threads: 1 }));
    try {
      (await reference()).dispose();
    } catch (e) {
      const reason = await cpuSkipReason(e);
      if (reason === null) throw e;
      return t.skip(reason);
    }
    const refs = new Map<string, Awaited<ReturnType<typeof trainAlone>>>();
    for (const task of tasks) {
      const be = await reference();
      refs.set(task.name, await trainAlone(task, be));
      be.dispose();
    }
    for (const policy of POLICIES) {
      const stashIn: number[] = [];
      const r = await train(tasks, {
        devices, deviceMemory: 90_000, policy, planDir: null, activations: 'offload',
        onEvent: (e: HydraEvent) => e.type === 'task-end' && e.kind === 'B' && e.model === 'focus' && stashIn.push(e.bytesIn),
      });
      for (const m of r.models) {
        const ref = refs.get(m.name)!;
        assert.equal(m.status, 'done', `${policy} ${m.name}: ${m.reason}`);
        assert.ok(m.plan.shards.length >= 3, `${m.name}: ${m.plan.shards.length} shards`);
        assert.ok((m.activationStashBytes ?? 0) > 0, `${policy} ${m.name}: offload was granted`);
        assert.deepEqual(m.losses, ref.losses, `${policy} ${m.name}: losses`);
        for (const [name, w] of ref.params) assert.ok(sameBits(w.data, m.weights.get(name)!.data), `${policy} ${m.name}: parameter ${name} differs`);
      }
      const focus = r.models.find((m) => m.name === 'focus')!;
      const rt = buildRuntime(buildGpt2(TINY), focus.plan.shards, recipe, 2, 8);
      const smallest = Math.min(...rt.shards.slice(0, -1).map((_, k) => stashLayout(rt, k).elems * 4));
      assert.ok(stashIn.length > 0 && stashIn.every((b) => b >= smallest), `${policy}: every B task copied its stash in (${stashIn.join(', ')} bytes; smallest stash ${smallest})`);
    }
  });
}

test('a host cap too small for the stashes: offload is off, the job recomputes and says why; a bad mode is refused', async () => {
  const one = [tinyTask('focus', { steps: 2 })];
  const r = await train(one, { devices: 'js:1', deviceMemory: 90_000, planDir: null, activations: 'offload', hostMemory: 185_000, spillDir: null });
  assert.equal(r.models[0].status, 'done');
  assert.equal(r.models[0].activationStashBytes, undefined, 'not granted under a 185 kB cap');
  const lines = await previewPlacement(one, { devices: 'js:1', deviceMemory: 90_000, planDir: null, activations: 'offload', hostMemory: 185_000, spillDir: null });
  assert.ok(lines.some((l) => /activation offload asked for but off: .*over the host cap/.test(l)), lines.join('\n'));
  const granted = await previewPlacement(one, { devices: 'js:1', deviceMemory: 90_000, planDir: null, activations: 'offload', spillDir: null });
  assert.ok(granted.some((l) => /activation stash \d/.test(l)), granted.join('\n'));
  await assert.rejects(
    train(one, { devices: 'js:1', deviceMemory: 90_000, planDir: null, activations: 'stash' as 'offload' }),
    /activations: expected one of 'recompute', 'offload', got "stash"/,
  );
});
