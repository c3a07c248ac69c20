/**
 * DESIGN §2 "interrupting a job leaves resumable checkpoints": a job stopped part-way (AbortSignal) checkpoints every
 * model at a minibatch boundary; the job resumed from those checkpoints ends bitwise where the uninterrupted job
 * ends — losses of every step and final parameters — with sharded models, dropout, tied weights and clipping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent, JobResult, TrainOptions } from '../../src/hydra/api.js';
import { CheckpointMismatchError } from '../../src/hydra/job/job-checkpoint.js';
import { tinyTask, syntheticSource, sameBits } from './helpers.js';

const tasks = [
  tinyTask('long', { steps: 7, train: syntheticSource(37, 2, 8, 3), eval: syntheticSource(37, 2, 8, 2, 5) }),
  tinyTask('medium', { seed: 2, steps: 5, clipNorm: 0 }),
  tinyTask('short', { seed: 3, steps: 2 }),
];
const base: TrainOptions = { devices: 'js:2', deviceMemory: 90_000, planDir: null };


function assertSameTraining(got: JobResult, want: JobResult, what: string): void {
  for (const w of want.models) {
    const g = got.models.find((m) => m.name === w.name)!;
    assert.equal(g.status, 'done', `${what}: ${w.name}: ${g.status} ${g.reason ?? ''}`);
    assert.deepEqual(g.losses, w.losses, `${what}: ${w.name}: losses`);
    assert.deepEqual(g.evals, w.evals, `${what}: ${w.name}: evals`);
    assert.equal(g.steps, w.steps);
    for (const [name, t] of w.weights) assert.ok(sameBits(g.weights.get(name)!.data, t.data), `${what}: ${w.name}: parameter ${name} differs`);
  }
}

test('train(): a job stopped part-way and resumed from its checkpoints ends bitwise as the uninterrupted job', async () => {
  const whole = await train(tasks, base);
  assert.ok(whole.models.every((m) => m.status === 'done'));
  assert.ok(whole.models[0].plan.shards.length >= 2, 'the long model should be sharded');

  const dir = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  const stop = new AbortController();
  const onEvent = (e: HydraEvent) => {
    if (e.type === 'step' && e.model === 'long' && e.step === 2) stop.abort();
  };
  const first = await train(tasks, { ...base, checkpointDir: dir, signal: stop.signal, onEvent });
  const long = first.models.find((m) => m.name === 'long')!;
  assert.equal(long.status, 'stopped');
  assert.ok(long.steps >= 3 && long.steps < 7, `long stopped after ${long.steps} steps`);
  assert.match(long.reason!, /stopped before step \d+; checkpoint /);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.ckpt')).length, 3, 'every model, stopped or finished, has a checkpoint');

  const resumedEvents: HydraEvent[] = [];
  const second = await train(tasks, { ...base, checkpointDir: dir, resume: true, onEvent: (e) => resumedEvents.push(e) });
  assertSameTraining(second, whole, `resumed after a stop at ${first.models.map((m) => `${m.name}@${m.steps}`).join(', ')}`);
  // The resumed job ran only the steps left: none of the stopped model's earlier steps again.
  const longSteps = resumedEvents.filter((e) => e.type === 'step' && e.model === 'long').map((e) => (e as { step: number }).step);
  assert.deepEqual(longSteps, Array.from({ length: 7 - long.steps }, (_, i) => long.steps + i));
  for (const m of first.models.filter((x) => x.status === 'done')) {
    assert.ok(!resumedEvents.some((e) => e.type === 'task-start' && e.model === m.name), `${m.name} had finished and must not train again`);
  }

  // Periodic checkpoints (every 2 steps), then a resume of a job that had already finished: nothing runs again.
  const dir2 = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  const periodic = await train(tasks, { ...base, checkpointDir: dir2, checkpointEvery: 2 });
  assertSameTraining(periodic, whole, 'with periodic checkpoints');
  const again: HydraEvent[] = [];
  const done = await train(tasks, { ...base, checkpointDir: dir2, resume: true, onEvent: (e) => again.push(e) });
  assertSameTraining(done, whole, 'resumed when finished');
  assert.ok(!again.some((e) => e.type === 'task-start'), 'a finished job resumes without any task');
});

test('train(): resuming with a checkpoint written for another configuration names the model and the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  await train(tasks.slice(2), { ...base, checkpointDir: dir, checkpointEvery: 1 });
  assert.ok(existsSync(join(dir, 'short.ckpt')));
  const changed = [{ ...tasks[2], optimizer: { ...tasks[2].optimizer, lr: 1e-2 } }];
  await assert.rejects(
    () => train(changed, { ...base, checkpointDir: dir, resume: true }),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointMismatchError);
      assert.match(e.message, /model 'short': optimizer was .*"lr":0\.005.* there and is .*"lr":0\.01.* now/);
      assert.match(e.message, /remove the file/);
      return true;
    },
  );
  await assert.rejects(() => train(tasks, { ...base, resume: true }), /checkpointDir: required with resume/);
});

test('train(): a periodic checkpoint taken mid-way (crash recovery) resumes to the uninterrupted result', async () => {
  const whole = await train(tasks, base);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  const saved = mkdtempSync(join(tmpdir(), 'hydra-saved-'));
  // Keep the files as they were when 'long' was checkpointed at step 4, as if the process had died right after.
  const onEvent = (e: HydraEvent) => {
    if (e.type === 'checkpoint' && e.model === 'long' && e.step === 4) for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(saved, f));
  };
  await train(tasks, { ...base, checkpointDir: dir, checkpointEvery: 2, onEvent });
  assert.ok(existsSync(join(saved, 'long.ckpt')));
  const events: HydraEvent[] = [];
  const resumed = await train(tasks, { ...base, checkpointDir: saved, resume: true, onEvent: (e) => events.push(e) });
  assertSameTraining(resumed, whole, 'resumed from periodic checkpoints');
  assert.ok(events.some((e) => e.type === 'log' && /long: resumed from .* at step 4/.test(e.message)));
});

test('train(): checkpoint failures, stale checkpoints and empty resumes are reported, not hidden', async () => {
  // The checkpoint directory cannot be created (a file is in the way): the stopped model says it cannot be resumed.
  const root = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  writeFileSync(join(root, 'file'), 'x');
  const stop = new AbortController();
  const r = await train(tasks.slice(2), { ...base, checkpointDir: join(root, 'file', 'ck'), signal: stop.signal, onEvent: (e) => e.type === 'step' && stop.abort() });
  assert.equal(r.models[0].status, 'stopped');
  assert.match(r.models[0].reason!, /writing checkpoint .* failed: .* it cannot be resumed from this stop/);
  assert.equal(r.models[0].checkpoint, undefined);

  // A fresh run moves an earlier run's checkpoint aside instead of leaving it to be resumed later.
  const dir = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  mkdirSync(dir, { recursive: true });
  await train(tasks.slice(2), { ...base, checkpointDir: dir, checkpointEvery: 1 });
  const logs: string[] = [];
  await train(tasks.slice(2), { ...base, checkpointDir: dir, onEvent: (e) => e.type === 'log' && logs.push(e.message) });
  assert.ok(existsSync(join(dir, 'short.ckpt.prev')) && !existsSync(join(dir, 'short.ckpt')));
  assert.ok(logs.some((m) => /moved to .*short\.ckpt\.prev/.test(m)));

  // Resuming where there is nothing to resume is an error naming the directory.
  await assert.rejects(() => train(tasks, { ...base, checkpointDir: mkdtempSync(join(tmpdir(), 'hydra-empty-')), resume: true }), /resume: no model of this job has a checkpoint in /);

  // Other training data (a different number of batches per epoch) is refused.
  const ck = mkdtempSync(join(tmpdir(), 'hydra-resume-'));
  await train(tasks.slice(2), { ...base, checkpointDir: ck, checkpointEvery: 1 });
  const otherData = [{ ...tasks[2], train: syntheticSource(37, 2, 8, 5) }];
  await assert.rejects(() => train(otherData, { ...base, checkpointDir: ck, resume: true }), /the training data's batches per epoch was 3 there and is 5 now/);
});
