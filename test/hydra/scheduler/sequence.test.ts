import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelState, Scheduler, shardCost } from '../../../src/hydra/scheduler/index.js';
import { drive, expectedSequence, label, mixedModels, uniformModel } from './drive.js';

test('a model with n shards runs F0…F(n-2), FL(n-1), B(n-2)…B0 per minibatch, then its eval passes', () => {
  const m = uniformModel('m', 3, 2, 1, { stepsPerEpoch: 1, evalBatches: 2 });
  const run = drive([m], 1);
  assert.deepEqual(run.log.map((e) => label(e.task)), [
    'F0@0', 'F1@0', 'FL2@0', 'B1@0', 'B0@0', 'E0@0#0', 'E1@0#0', 'E2@0#0', 'E0@0#1', 'E1@0#1', 'E2@0#1',
    'F0@1', 'F1@1', 'FL2@1', 'B1@1', 'B0@1', 'E0@1#0', 'E1@1#0', 'E2@1#0', 'E0@1#1', 'E1@1#1', 'E2@1#1',
  ]);
  assert.deepEqual(run.log.map((e) => e.task.epoch), [...new Array(11).fill(0), ...new Array(11).fill(1)]);
});

test('a one-shard model is just FL0 per minibatch', () => {
  const run = drive([uniformModel('m', 1, 3)], 2);
  assert.deepEqual(run.log.map((e) => label(e.task)), ['FL0@0', 'FL0@1', 'FL0@2']);
});

test('default evaluation points: the end of every full epoch and the last step', () => {
  const m = new ModelState(0, uniformModel('m', 1, 5, 1, { stepsPerEpoch: 2, evalBatches: 1 }));
  assert.deepEqual(m.evalSteps, [1, 3, 4]);
  assert.equal(m.tasksTotal, 5 + 3);
});

test('sequence numbers are unique and increase in assignment order', () => {
  const run = drive(mixedModels(), 3);
  const seqs = run.log.map((e) => e.task.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(new Set(seqs).size, seqs.length);
});

test('remaining time = the sum of the estimates of the tasks not yet started, at every point of the run', () => {
  for (const spec of mixedModels()) {
    const m = new ModelState(0, spec);
    const costs = expectedSequence(spec).map((l) => {
      const [, kind, shard] = /^([A-Z]+)(\d+)/.exec(l)!;
      return spec.shards[Number(shard)][kind as 'F'];
    });
    for (let i = 0; i < costs.length; i++) {
      const rest = costs.slice(i).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(m.notStarted - rest) < 1e-9, `${spec.id} after ${i} tasks: ${m.notStarted} vs ${rest}`);
      assert.equal(label(m.next()), expectedSequence(spec)[i]);
      m.advance();
    }
    assert.equal(m.hasWork, false);
    assert.equal(m.notStarted, 0);
  }
});

test('measured durations replace the pilot estimate (running mean) and move the remaining time', () => {
  const s = new Scheduler([{ id: 'm', shards: [shardCost(1, 2, 0)], minibatches: 4 }], 1);
  assert.equal(s.remainingSeconds('m'), 12);
  let t = s.assign(0, 0)!;
  s.complete(t, 5, 5);
  assert.equal(s.remainingSeconds('m'), 15); // 3 left × 5 s
  t = s.assign(0, 5)!;
  s.complete(t, 7, 12);
  assert.equal(s.remainingSeconds('m'), 12); // 2 left × mean(5, 7)
  const p = s.modelProgress('m');
  assert.equal(p.stepsDone, 2);
  assert.equal(p.tasksDone, 2);
  assert.equal(p.fraction, 0.5);
});

test('with refine: false the pilot estimates stay', () => {
  const s = new Scheduler([{ id: 'm', shards: [shardCost(1, 2, 0)], minibatches: 4 }], 1, { refine: false });
  const t = s.assign(0, 0)!;
  s.complete(t, 5, 5);
  assert.equal(s.remainingSeconds('m'), 9);
});

test('progress: remaining time counts the unfinished part of the task in flight; the ETA is optimistic', () => {
  const s = new Scheduler([uniformModel('a', 1, 2, 1), uniformModel('b', 1, 2, 1)], 2);
  s.assign(0, 0);
  s.assign(1, 0);
  assert.equal(s.remainingSeconds('a', 1), 3 + 2);
  assert.equal(s.etaSeconds(1), Math.max((5 + 5) / 2, 5));
});
