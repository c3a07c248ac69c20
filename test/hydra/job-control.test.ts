/**
 * Jobs that change while running: a model added mid-job, a model stopped by name, a resumed job with a grown grid.
 * The other models end bitwise as they would have without the change (a model's arithmetic never depends on its
 * neighbours), and an added model bitwise as if trained alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import { startTraining } from '../../src/hydra/job/job-control.js';
import type { HydraEvent, JobResult, TrainOptions } from '../../src/hydra/api.js';
import { createBackend } from '../../src/backend/index.js';
import { syntheticSource, tinyTask, trainAlone } from './helpers.js';

const tasks = [
  tinyTask('a', { steps: 6 }),
  tinyTask('b', { seed: 2, steps: 5, clipNorm: 0 }),
  tinyTask('c', { seed: 3, steps: 4, eval: syntheticSource(37, 2, 8, 2, 5) }),
];
const late = tinyTask('late', { seed: 4, steps: 4 });
const base: TrainOptions = { devices: 'js:2', deviceMemory: 90_000, planDir: null };
/** The job as it runs without any change (computed once). */
let plain: Promise<JobResult> | undefined;
const unchangedJob = () => (plain ??= train(tasks, base));

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function assertUnchanged(got: JobResult, want: JobResult, names: string[], what: string): void {
  for (const name of names) {
    const g = got.models.find((m) => m.name === name)!, w = want.models.find((m) => m.name === name)!;
    assert.equal(g.status, 'done', `${what}: ${name}: ${g.status} ${g.reason ?? ''}`);
    assert.deepEqual(g.losses, w.losses, `${what}: ${name}: losses`);
    assert.deepEqual(g.evals, w.evals, `${what}: ${name}: evals`);
    for (const [p, t] of w.weights) assert.ok(sameBits(g.weights.get(p)!.data, t.data), `${what}: ${name}: parameter ${p}`);
  }
}

async function alone(name: string) {
  const be = await createBackend('js');
  const r = await trainAlone([...tasks, late].find((t) => t.name === name)!, be);
  be.dispose();
  return r;
}

test('job.add: a model added mid-job trains as if alone; the others end bitwise unchanged', async () => {
  const without = await unchangedJob();
  let job: ReturnType<typeof startTraining> | undefined;
  let added: Promise<void> | undefined;
  const events: HydraEvent[] = [];
  job = startTraining(tasks, {
    ...base,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.model === 'a' && e.step === 1 && !added) added = job!.add(late);
    },
  });
  const r = await job.result;
  await added;
  assertUnchanged(r, without, ['a', 'b', 'c'], 'with a model added');
  const l = r.models.find((m) => m.name === 'late')!;
  assert.equal(l.status, 'done');
  const ref = await alone('late');
  assert.deepEqual(l.losses, ref.losses);
  for (const [p, t] of ref.params) assert.ok(sameBits(l.weights.get(p)!.data, t.data), `late: parameter ${p}`);
  // It really joined a running job: other models had trained before it started, and trained on after.
  const firstLate = events.findIndex((e) => e.type === 'task-start' && e.model === 'late');
  assert.ok(events.slice(0, firstLate).some((e) => e.type === 'step' && e.model === 'a'));
  assert.ok(events.slice(firstLate).some((e) => e.type === 'step' && e.model !== 'late'));
  await assert.rejects(job.add(tinyTask('after')), /the job has ended/);
});

test('job.add refuses a duplicate name without disturbing the job; stop(name) ends one model and frees its host tier', async () => {
  const without = await unchangedJob();
  let job: ReturnType<typeof startTraining> | undefined;
  let dup: Promise<void> | undefined;
  const events: HydraEvent[] = [];
  job = startTraining(tasks, {
    ...base,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.model === 'a' && e.step === 1 && !dup) {
        dup = job!.add(tinyTask('b'));
        dup.catch(() => {}); // asserted below, once the job is over
        job!.stop('a');
        assert.throws(() => job!.stop('zzz'), /stop: no model named 'zzz' in this job \(models: a, b, c\)/);
      }
    },
  });
  const r = await job.result;
  await assert.rejects(dup!, /add: a model named 'b' is already in this job/);
  const a = r.models.find((m) => m.name === 'a')!;
  assert.equal(a.status, 'stopped');
  assert.match(a.reason!, /^stopped by name at step [2-5]$/);
  assert.deepEqual(a.losses, without.models[0].losses.slice(0, a.steps), 'its curve so far is kept');
  assertUnchanged(r, without, ['b', 'c'], 'with a stopped');
  const release = events.find((e) => e.type === 'host-release');
  assert.ok(release && release.type === 'host-release' && release.model === 'a' && release.bytes > 0);
  assert.equal(r.hostTier!.inUse, r.hostTier!.highWater - release.bytes);
});

test('job.add when the last model\'s room is let go: a request made while the job runs is served, not lost to the loop ending', async () => {
  // The only model is stopped; its host state is let go as it ends, when the scheduler is done and no task runs.
  let job: ReturnType<typeof startTraining> | undefined;
  let added: Promise<void> | undefined;
  job = startTraining([tasks[2]], {
    ...base,
    onEvent: (e) => {
      if (e.type === 'step' && e.model === 'c' && e.step === 1) job!.stop('c');
      if (e.type === 'host-release' && e.model === 'c' && !added) added = job!.add(late);
    },
  });
  const r = await job.result;
  await added;
  const got = r.models.find((m) => m.name === 'late');
  assert.equal(got?.status, 'done', got?.reason);
  assert.deepEqual(got.losses, (await alone('late')).losses);
});

test('resume with a grown grid: the new model starts from step 0, the others continue bitwise', async () => {
  const whole = await unchangedJob();
  const dir = mkdtempSync(join(tmpdir(), 'hydra-grow-'));
  const stop = new AbortController();
  await train(tasks, { ...base, checkpointDir: dir, signal: stop.signal, onEvent: (e) => void (e.type === 'step' && e.model === 'a' && e.step === 2 && stop.abort()) });
  const logs: string[] = [];
  const grown = await train([...tasks, late], { ...base, checkpointDir: dir, resume: true, onEvent: (e) => void (e.type === 'log' && logs.push(e.message)) });
  assertUnchanged(grown, whole, ['a', 'b', 'c'], 'resumed with a grown grid');
  assert.ok(logs.some((m) => /^late: no checkpoint at .*; starting from step 0$/.test(m)));
  const ref = await alone('late');
  assert.deepEqual(grown.models[3].losses, ref.losses);
});
