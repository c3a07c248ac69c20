import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POLICY_NAMES, Scheduler, pipelineDevice, type Task } from '../../../src/hydra/scheduler/index.js';
import { drive, expectedSequence, label, mixedModels, uniformModel } from './drive.js';

for (const policy of POLICY_NAMES) {
  test(`${policy}: one task in flight per model, every task once and in order, the run completes`, () => {
    const models = mixedModels();
    for (const devices of [1, 2, 3, 7]) {
      const run = drive(models, devices, { policy, seed: 3, trueSpeeds: [1, 2, 0.5, 1, 1, 1.5, 1] });
      for (const m of models) {
        const mine = run.log.filter((e) => e.task.modelId === m.id);
        assert.deepEqual(mine.map((e) => label(e.task)), expectedSequence(m), `${policy} on ${devices} devices: order of ${m.id}`);
        // One in flight: each task of a model starts no earlier than the previous one ended.
        for (let i = 1; i < mine.length; i++) assert.ok(mine[i].start >= mine[i - 1].end, `${m.id}: overlapping tasks`);
      }
      // A device runs one task at a time.
      for (let d = 0; d < devices; d++) {
        const onD = run.log.filter((e) => e.task.device === d).sort((a, b) => a.start - b.start);
        for (let i = 1; i < onD.length; i++) assert.ok(onD[i].start >= onD[i - 1].end, `device ${d} double-booked`);
      }
      assert.ok(run.sched.progress().every((p) => p.status === 'done' && p.fraction === 1));
    }
  });
}

test('sharded-lrtf: a free device takes the ready model with the longest remaining time', () => {
  const models = [uniformModel('short', 2, 1), uniformModel('long', 2, 5), uniformModel('mid', 2, 3)];
  const s = new Scheduler(models, 3);
  assert.deepEqual([0, 1, 2].map((d) => s.assign(d, 0)!.modelId), ['long', 'mid', 'short']);
});

test('sharded-lrtf: models finish close together (their remaining times are balanced)', () => {
  const models = Array.from({ length: 6 }, (_, i) => uniformModel(`m${i}`, 3, 4 + i));
  const run = drive(models, 3);
  const finish = models.map((m) => Math.max(...run.log.filter((e) => e.task.modelId === m.id).map((e) => e.end)));
  const work = models.reduce((a, m) => a + new Scheduler([m], 1).remainingSeconds(m.id), 0);
  assert.ok(run.makespan <= work / 3 + 3, `makespan ${run.makespan} vs perfect split ${work / 3}`);
  assert.ok(Math.max(...finish) - Math.min(...finish) <= 6, `finish times spread: ${finish.join(', ')}`);
});

test('sharded-lrtf: online refinement steers work to a model whose pilot estimate was too low', () => {
  const pick = (refine: boolean) => {
    // Pilot: a = 6 × 1 s, b = 6 × 1.5 s, c = 6 × 1.2 s (one shard each, FL = 3 × f). a really takes 5 × longer.
    const s = new Scheduler([uniformModel('a', 1, 6, 1 / 3), uniformModel('b', 1, 6, 0.5), uniformModel('c', 1, 6, 0.4)], 3, { refine });
    const tasks = new Map([0, 1, 2].map((d) => s.assign(d, 0)!).map((t) => [t.modelId, t]));
    s.complete(tasks.get('a')!, 5, 5);
    s.complete(tasks.get('b')!, 1.5, 5);
    s.complete(tasks.get('c')!, 1.2, 5);
    return s.assign(0, 5)!.modelId;
  };
  assert.equal(pick(true), 'a', 'measured: a has 5 × 5 s left, the longest');
  assert.equal(pick(false), 'b', 'pilot only: b looks longest');
});

test('round-robin: cycles through the models in order', () => {
  const models = ['a', 'b', 'c'].map((id) => uniformModel(id, 1, 2));
  const run = drive(models, 1, { policy: 'round-robin' });
  assert.deepEqual(run.log.map((e) => e.task.modelId), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('random: the same seed gives the same schedule; another seed another one', () => {
  const models = mixedModels();
  const order = (seed: number) => drive(models, 3, { policy: 'random', seed }).log.map((e) => `${e.task.modelId}${label(e.task)}/${e.task.device}`).join(' ');
  assert.equal(order(42), order(42));
  assert.notEqual(order(42), order(43));
});

test('model-lrtf: every model stays on one device; the longest models are placed first', () => {
  const models = mixedModels();
  const run = drive(models, 3, { policy: 'model-lrtf' });
  for (const m of models) {
    const devices = new Set(run.log.filter((e) => e.task.modelId === m.id).map((e) => e.task.device));
    assert.equal(devices.size, 1, `${m.id} ran on devices ${[...devices].join(', ')}`);
  }
  const s = new Scheduler(models, 2, { policy: 'model-lrtf' });
  const longest = [...models].sort((a, b) => s.remainingSeconds(b.id) - s.remainingSeconds(a.id));
  assert.deepEqual([s.assign(0, 0)!.modelId, s.assign(1, 0)!.modelId], [longest[0].id, longest[1].id]);
});

test('model-lrtf: with fewer models than devices the extra devices stay idle', () => {
  const run = drive([uniformModel('a', 3, 2), uniformModel('b', 2, 2)], 4, { policy: 'model-lrtf' });
  assert.equal(new Set(run.log.map((e) => e.task.device)).size, 2);
});

test('pipeline: shard s of n runs on device floor(s·D/n), one model at a time, models in order', () => {
  const models = mixedModels();
  for (const D of [1, 2, 3, 4]) {
    const run = drive(models, D, { policy: 'pipeline' });
    for (const e of run.log) {
      assert.equal(e.task.device, pipelineDevice(e.task.shard, models[e.task.model].shards.length, D), `${e.task.modelId} ${label(e.task)} on ${D} devices`);
    }
    const spans = models.map((m) => {
      const mine = run.log.filter((e) => e.task.modelId === m.id);
      return { start: Math.min(...mine.map((e) => e.start)), end: Math.max(...mine.map((e) => e.end)) };
    });
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i].start >= spans[i - 1].end, `model ${i} started before model ${i - 1} ended`);
    // Unpipelined: never two tasks at once.
    const sorted = [...run.log].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].start >= sorted[i - 1].end);
  }
});

test('events: assign and complete for every task, model-done for every model', () => {
  const seen: string[] = [];
  const tasks: Task[] = [];
  drive([uniformModel('a', 2, 1), uniformModel('b', 1, 1)], 2, {
    onEvent: (e) => {
      seen.push(e.type);
      if (e.type === 'assign') tasks.push(e.task);
    },
  });
  assert.equal(seen.filter((t) => t === 'assign').length, 4);
  assert.equal(seen.filter((t) => t === 'complete').length, 4);
  assert.equal(seen.filter((t) => t === 'model-done').length, 2);
  assert.ok(tasks.every((t) => t.estimate > 0 && Number.isInteger(t.seq)));
});
