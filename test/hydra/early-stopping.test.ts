/**
 * Early stopping in a real job: ASHA judged on the shared held-out blocks at rung boundaries. The same models stop at
 * the same steps whatever the policy and the device count; a survivor ends bitwise as if trained alone; a stopped
 * model keeps its curve, gets its reason and gives its host-tier state back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, JobResult, PolicyName, TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { createBackend } from '../../src/backend/index.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { syntheticSource, tinyTask, trainAlone } from './helpers.js';

const STEPS = 8;
const eval_ = syntheticSource(37, 2, 8, 2, 5);
// Learning rates from useful to useless: ASHA should keep the good ones.
const LRS = [5e-3, 1e-5, 2e-3, 3e-5, 1e-2, 1e-4];
const tasks: TrainTask[] = LRS.map((lr, i) => tinyTask(`lr=${lr}`, { steps: STEPS, optimizer: { ...ADAMW_DEFAULTS, lr }, seed: 11 + i, eval: eval_ }));
const asha: TrainOptions['earlyStopping'] = { kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: 2, reduction_factor: 2, brackets: 1 };
const base: TrainOptions = { devices: 'js:2', deviceMemory: 90_000, planDir: null, earlyStopping: asha };

const outcome = (r: JobResult) => r.models.map((m) => `${m.name}: ${m.status} after ${m.steps}${m.stoppedEarly ? ` (rung ${m.stoppedEarly.rung})` : ''}`);

/** The reference job (sharded-lrtf on js:2) and its events, run once for every test here. */
const refEvents: HydraEvent[] = [];
let ref: Promise<JobResult> | undefined;
const referenceJob = () => (ref ??= train(tasks, { ...base, onEvent: (e) => refEvents.push(e) }));

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('ASHA in a job: the same models stop at the same steps under every policy and device count', async () => {
  const reference = await referenceJob();
  const stopped = reference.models.filter((m) => m.status === 'stopped-early');
  assert.ok(stopped.length >= 2 && stopped.length < tasks.length, outcome(reference).join('\n'));
  for (const m of stopped) {
    assert.match(m.reason!, /^stopped early by asha at rung \d \(step [24]\): eval_loss [\d.]+ outside the top of its rung, cutoff [\d.]+$/);
    assert.equal(m.steps, m.stoppedEarly!.step, 'it stopped at its rung');
    // Its curve is kept: every step's loss and the evaluation at each rung it reached.
    assert.equal(m.losses.length, m.steps);
    for (const r of [2, 4].filter((x) => x <= m.steps)) assert.ok(m.evals.some((e) => e.step === r), `${m.name}: evaluation at rung ${r}`);
    assert.equal(m.evals.at(-1)!.loss, m.stoppedEarly!.value);
    assert.ok(m.weights.size > 0, 'its final weights are in the result');
  }
  for (const m of reference.models.filter((x) => x.status === 'done')) assert.equal(m.steps, STEPS);
  const rungs = refEvents.filter((e) => e.type === 'rung');
  assert.ok(rungs.length > 0 && rungs.every((e) => e.type === 'rung' && (e.action === 'stop') === (e.reason !== undefined)));

  // (Every policy on 1-3 devices is covered on the scheduler alone: test/hydra/scheduler/horizons.test.ts.)
  const runs: [string, PolicyName][] = [['js:1', 'model-lrtf'], ['js:3', 'round-robin'], ['js:2', 'pipeline']];
  for (const [devices, policy] of runs) {
    const r = await train(tasks, { ...base, devices, policy });
    assert.deepEqual(outcome(r), outcome(reference), `${policy} on ${devices}`);
    for (const [i, m] of r.models.entries()) assert.deepEqual(m.evals, reference.models[i].evals, `${policy} on ${devices}: ${m.name}'s curve`);
  }
});

test('ASHA in a job: a survivor ends bitwise as the same model trained alone; stopped models free their host tier', async () => {
  const r = await referenceJob();
  const events = refEvents;
  const survivor = r.models.find((m) => m.status === 'done')!;
  const be = await createBackend('js');
  const alone = await trainAlone(tasks.find((t) => t.name === survivor.name)!, be);
  be.dispose();
  assert.deepEqual(survivor.losses, alone.losses);
  for (const [name, t] of alone.params) assert.ok(sameBits(survivor.weights.get(name)!.data, t.data), `${survivor.name}: parameter ${name}`);

  // Every model has the same shape, hence the same host-tier footprint: the survivors hold all of theirs, a stopped
  // model only its parameter arrays (its result's weights are views of them, kept in the tier's accounts).
  const released = events.filter((e) => e.type === 'host-release');
  const stopped = r.models.filter((m) => m.status === 'stopped-early');
  assert.deepEqual(released.map((e) => e.type === 'host-release' && e.model).sort(), stopped.map((m) => m.name).sort());
  const perModel = r.hostTier!.highWater / tasks.length;
  const params = [...survivor.weights.values()].reduce((a, w) => a + w.data.byteLength, 0);
  for (const e of released) assert.ok(e.type === 'host-release' && e.bytes === perModel - params, `released ${JSON.stringify(e)} vs ${perModel} - ${params} per model`);
  assert.equal(r.hostTier!.inUse, (tasks.length - stopped.length) * perModel + stopped.length * params);
});

test('ASHA in a job: stopped part-way and resumed, the job stops the same models and ends bitwise the same', async () => {
  const whole = await referenceJob();
  const dir = mkdtempSync(join(tmpdir(), 'hydra-asha-resume-'));
  const stop = new AbortController();
  const first = await train(tasks, { ...base, checkpointDir: dir, signal: stop.signal, onEvent: (e) => void (e.type === 'step' && e.step === 2 && stop.abort()) });
  assert.ok(first.models.some((m) => m.status === 'stopped'), outcome(first).join('\n'));
  const second = await train(tasks, { ...base, checkpointDir: dir, resume: true });
  assert.deepEqual(outcome(second), outcome(whole));
  for (const [i, m] of second.models.entries()) {
    const w = whole.models[i];
    assert.deepEqual([m.losses, m.evals, m.reason], [w.losses, w.evals, w.reason], m.name);
    for (const [p, t] of w.weights) assert.ok(sameBits(m.weights.get(p)!.data, t.data), `${m.name}: parameter ${p}`);
  }
});

test('early stopping needs held-out data', async () => {
  await assert.rejects(train([tinyTask('no-eval')], base), /earlyStopping: model 'no-eval' has no held-out data/);
});
