/**
 * Set-up overlapped with training: every model is planned and the job's state placed (preflight) before anything
 * trains; the first model trains while the others are given their state and initialised behind it, each joining the
 * running job when ready — under every policy each ends bitwise as in the job set up model by model (overlapSetUp
 * false; that job is itself exact against training alone, train-exactness.test.ts). A later set-up failure stops the job and train() rejects with it. The disk tier's placement and preflight
 * still come before the first task; the host tier never exceeds its cap while models are set up behind the job (an
 * add() waits for them, and is placed against what they hold). A fresh model is initialised shard by shard, each
 * parameter once, bitwise its whole initialisation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HydraEvent, PolicyName, TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { startTraining } from '../../src/hydra/job/job-control.js';
import { initByShard } from '../../src/hydra/job/shard-init.js';
import { train } from '../../src/hydra/job/train.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { POLICY_NAMES } from '../../src/hydra/scheduler/types.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { PreflightError } from '../../src/hydra/tier/preflight.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { initModel } from '../../src/nn/init.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { CONSTANT_LR } from '../../src/optim/schedule.js';
import { DISK_DEVICE_BUDGET, DISK_HOST_CAP, diskTasks } from './disk-tasks.js';
import { TINY, sameBits, tinyTask } from './helpers.js';

const tasks: TrainTask[] = [tinyTask('a', { steps: 4 }), tinyTask('b', { seed: 2 }), tinyTask('c', { seed: 3, steps: 2 })];
const at = (events: HydraEvent[], p: (e: HydraEvent) => boolean) => events.findIndex(p);
const firstTask = (events: HydraEvent[]) => at(events, (e) => e.type === 'task-start');
const allocOf = (events: HydraEvent[], m: string) => at(events, (e) => e.type === 'host-alloc' && e.model === m);

test('set-up overlapped, under every policy: all planned first, the first model trains while the others get their state, each bitwise as set up model by model', async () => {
  // The reference: the same job with every model given its state and initialised before anything trains.
  const seqEvents: HydraEvent[] = [];
  const seq = await train(tasks, { devices: 'js:2', deviceMemory: 90_000, planDir: null, overlapSetUp: false, onEvent: (e) => seqEvents.push(e) });
  assert.ok(tasks.every((t) => allocOf(seqEvents, t.name) < firstTask(seqEvents)), 'not overlapped: every model has its state before anything trains');
  for (const policy of POLICY_NAMES as PolicyName[]) {
    const events: HydraEvent[] = [];
    const r = await train(tasks, { devices: 'js:2', deviceMemory: 90_000, planDir: null, policy, onEvent: (e) => events.push(e) });
    const first = firstTask(events);
    for (const t of tasks) assert.ok(at(events, (e) => e.type === 'plan' && e.model === t.name) < first, `${policy}: ${t.name} is planned before anything trains`);
    assert.ok(allocOf(events, 'a') < first, `${policy}: the first model has its state before it trains`);
    assert.ok(first < allocOf(events, 'b') && allocOf(events, 'b') < allocOf(events, 'c'), `${policy}: the others get theirs, in order, while it trains`);
    assert.equal((events[first] as { model: string }).model, 'a', `${policy}: the first task is the first model's`);
    assert.deepEqual(r.models.map((m) => [m.name, m.status]), [['a', 'done'], ['b', 'done'], ['c', 'done']], policy);
    for (const [i, m] of r.models.entries()) {
      const ref = seq.models[i];
      assert.deepEqual(m.losses, ref.losses, `${policy} ${m.name}: losses`);
      for (const [name, t] of ref.weights) assert.ok(sameBits(m.weights.get(name)!.data, t.data), `${policy} ${m.name}: ${name}`);
    }
  }
});

test('a later model whose set-up fails stops the running job at a boundary, nothing behind it is set up, and train() rejects with its error', async () => {
  const events: HydraEvent[] = [];
  const bad: TrainTask = { ...tinyTask('bad', { seed: 2 }), weights: { describe: 'a broken checkpoint', read: async () => { throw new Error('the weights of bad cannot be read'); } } };
  await assert.rejects(
    train([tinyTask('a', { steps: 40 }), bad, tinyTask('c', { seed: 3 })], { devices: 'js:1', deviceMemory: 90_000, planDir: null, onEvent: (e) => events.push(e) }),
    /the weights of bad cannot be read/,
  );
  assert.ok(firstTask(events) >= 0, 'a trained before the failure');
  const end = events.find((e) => e.type === 'model-end' && e.model === 'a');
  assert.ok(end && end.type === 'model-end' && end.status === 'stopped', `the running model was stopped at a boundary: ${JSON.stringify(end)}`);
  assert.equal(allocOf(events, 'c'), -1, 'the model behind the failure is not set up');
});

test('disk tier: placement and preflight see every model before the first task; a job that cannot fit is refused before anything trains', async () => {
  const spill = mkdtempSync(join(tmpdir(), 'hydra-overlap-spill-'));
  const options: TrainOptions = { devices: 'js:2', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null };
  const events: HydraEvent[] = [];
  const r = await train(diskTasks, { ...options, onEvent: (e) => events.push(e) });
  const first = firstTask(events);
  const placement = at(events, (e) => e.type === 'log' && e.message.startsWith('placement: '));
  assert.ok(placement >= 0 && placement < first, 'the placement of both models is decided before the first task');
  assert.ok(at(events, (e) => e.type === 'log' && e.message.includes(`${diskTasks[1].name}: `) && e.message.includes('RAM')) < first);
  assert.ok(allocOf(events, diskTasks[0].name) < first && allocOf(events, diskTasks[1].name) > first, 'the second model gets its placed state behind the running job');
  assert.ok(r.diskTier!.highWater > 0 && r.models.every((m) => m.status === 'done'));
  assert.ok(r.hostTier!.highWater <= DISK_HOST_CAP, `host high-water ${r.hostTier!.highWater} within the cap`);
  // Refused: a cap below what the two need even with everything movable on disk.
  const refused: HydraEvent[] = [];
  await assert.rejects(train(diskTasks, { ...options, hostMemory: 60_000, onEvent: (e) => refused.push(e) }), PreflightError);
  assert.equal(firstTask(refused), -1, 'nothing trained');
});

test('host tier within its cap while models are set up behind the job; an add() waits for them and is placed against what they hold', async () => {
  const whole = await train(tasks, { devices: 'js:2', deviceMemory: 90_000, planDir: null });
  const cap = whole.hostTier!.highWater; // exactly what the three models hold
  const events: HydraEvent[] = [];
  const job = startTraining(tasks, { devices: 'js:2', deviceMemory: 90_000, planDir: null, hostMemory: cap, spillDir: null, onEvent: (e) => events.push(e) });
  // Asked at once, while b and c are still to be set up: placed after them, it cannot fit.
  const added = job.add(tinyTask('d', { seed: 4 }));
  await assert.rejects(added, PreflightError);
  const r = await job.result;
  assert.deepEqual(r.models.map((m) => m.status), ['done', 'done', 'done']);
  const inUse = events.flatMap((e) => (e.type === 'host-alloc' || e.type === 'host-release' ? [e.inUse] : []));
  assert.equal(inUse.length, 3);
  assert.ok(inUse.every((b) => b <= cap), `host tier in use ${inUse.join(', ')} never over the cap ${cap}`);
  assert.equal(r.hostTier!.highWater, cap);
});

test('initialisation shard by shard: each parameter once (a tied one with shard 0), shard 0 first, bitwise the whole initialisation', async () => {
  const model = buildGpt2(TINY);
  const L = model.layers.length;
  const rt = buildRuntime(model, [{ from: 0, to: 2 }, { from: 2, to: L - 1 }, { from: L - 1, to: L }], { optimizer: { ...ADAMW_DEFAULTS, lr: 1e-3 }, schedule: CONSTANT_LR, clipNorm: 0, totalSteps: 1, seed: 7 }, 2, 8);
  // The tied embedding is used by shard 0 (embed) and the last (lm_head): it is initialised once, with shard 0.
  assert.deepEqual(rt.byName.get('wte.weight')!.shards, [0, 2]);
  const views = viewsOf(allocateHostState(rt, new HostTier(1 << 30), 'm'), rt);
  const order: number[] = [];
  const handed: string[] = [];
  const counting = { ...views, param: (name: string) => (handed.push(name), views.param(name)) };
  let engine: string | undefined;
  const shards = initByShard(rt, counting, 7, (e) => (engine = e));
  shards.forEach((p, k) => void p.then(() => order.push(k)));
  await Promise.all(shards);
  assert.deepEqual(order, [0, 1, 2]);
  assert.ok(engine === 'native' || engine === 'js');
  assert.deepEqual([...handed].sort(), rt.params.map((p) => p.spec.name).sort(), 'each parameter initialised once');
  const ref = initModel(model, 7);
  for (const p of rt.params) assert.ok(sameBits(views.param(p.spec.name), ref.get(p.spec.name)!.data), p.spec.name);
});
