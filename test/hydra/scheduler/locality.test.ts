/**
 * Locality-aware Sharded-LRTF: a device prefers a model whose next shard it already holds, but only within the margin
 * the copy would cost (measured copy time × the longest model's tasks left); no model starves and all still finish
 * together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, shardCost, type Locality, type ModelSpec } from '../../../src/hydra/scheduler/index.js';
import { drive } from './drive.js';

const model = (id: string, n: number, steps: number, f = 1, paramBytes = 1e9): ModelSpec => ({
  id,
  shards: Array.from({ length: n }, () => shardCost(f, 2 * f, paramBytes)),
  minibatches: steps,
});

/** Locality where `local(device, model)` says what is resident; copies take bytes / bandwidth. */
const oracle = (local: (device: number, model: number, shard: number) => boolean, bandwidth: number): Locality => ({
  local,
  copySeconds: (_d, bytes) => bytes / bandwidth,
  prefetchable: () => true,
});

test('a device takes a model whose next shard it holds over a slightly longer one; not beyond the margin', () => {
  // a: 2 steps of one 3 s task = 6 s left, 2 tasks; b: 5.9 s left. Copy 0.1 s → margin 0.1 × 2 tasks = 0.2 s.
  const specs = [{ ...model('a', 1, 2), shards: [shardCost(1, 2, 1e9)] }, { ...model('b', 1, 2), shards: [shardCost(0.95, 2, 1e9)] }];
  const bLocal = oracle((_d, m) => m === 1, 1e10);
  assert.equal(new Scheduler(specs, 1, { locality: bLocal }).assign(0, 0)!.modelId, 'b', 'b is within the margin and local');
  assert.equal(new Scheduler(specs, 1).assign(0, 0)!.modelId, 'a', 'without locality: plain LRTF');
  const slowCopy = oracle((_d, m) => m === 1, 1e11); // copy 0.01 s → margin 0.02 s < 0.1 s gap
  assert.equal(new Scheduler(specs, 1, { locality: slowCopy }).assign(0, 0)!.modelId, 'a', 'beyond the margin: the longest');
});

test('no model starves: with every other model always local, the longest still runs and all finish together', () => {
  // Eight models of different lengths on two devices; model 0 (the longest) is never local, all others always are,
  // and copies are expensive (the margin is large). LRTF's guarantee must survive the adversarial locality.
  const specs = Array.from({ length: 8 }, (_, i) => model(`m${i}`, 2, 6 + (i === 0 ? 3 : i % 3), 1, 1e9));
  const copy = 0.05; // seconds per shard: margin 0.05 × tasks left
  const run = drive(specs, 2, { locality: oracle((_d, m) => m !== 0, 1e9 / copy) });
  const finish = specs.map((s) => Math.max(...run.log.filter((e) => e.task.modelId === s.id).map((e) => e.end)));
  const firstRun0 = Math.min(...run.log.filter((e) => e.task.modelId === 'm0').map((e) => e.start));
  assert.equal(firstRun0, 0, 'the longest model starts at once: its lead is beyond the margin of every other');
  // As plain LRTF: the same makespan (within one copy), and finish times spread no wider than plain LRTF's by more
  // than one copy and the longest task (3 s).
  const plain = drive(specs, 2);
  const plainFinish = specs.map((s) => Math.max(...plain.log.filter((e) => e.task.modelId === s.id).map((e) => e.end)));
  const spread = (f: number[]) => Math.max(...f) - Math.min(...f);
  assert.ok(spread(finish) <= spread(plainFinish) + 3 + copy + 1e-9, `finish times spread ${spread(finish)} s vs plain LRTF ${spread(plainFinish)} s`);
  assert.ok(run.makespan <= plain.makespan + copy + 1e-9, `makespan ${run.makespan} vs plain LRTF ${plain.makespan}`);
  assert.ok(finish[0] >= run.makespan - 3 - copy - 1e-9, 'the never-local model is not left behind');
});

test('devices keep their models when it is free to: a local model is taken within the margin, and the lookahead says so', () => {
  // Two equal one-shard models on one device: plain LRTF alternates them (ties go to the lower index after each task);
  // with locality the device's resident model (the one it ran last) is kept while within the margin.
  const specs = [model('a', 1, 6), model('b', 1, 6)];
  let lastOn = -1;
  const locality = oracle((_d, m) => m === lastOn, 1e9); // copy 1 s: margin 1 s × tasks left
  const sched = new Scheduler(specs, 1, { locality });
  const order: string[] = [];
  let now = 0;
  for (;;) {
    const t = sched.assign(0, now);
    if (!t) break;
    order.push(t.modelId);
    lastOn = t.model;
    const hint = sched.peek(0);
    now += 3;
    sched.complete(t, 3, now);
    if (!sched.isDone()) {
      const next = sched.assign(0, now);
      assert.equal(next?.modelId, hint?.modelId, `peek predicted ${hint?.modelId}, assign gave ${next?.modelId}`);
      order.push(next!.modelId);
      lastOn = next!.model;
      now += 3;
      sched.complete(next!, 3, now);
    }
  }
  const switches = order.slice(1).filter((m, i) => m !== order[i]).length;
  assert.ok(switches < 11, `plain LRTF switches 11 times; locality kept models: ${order.join('')}`);
  assert.equal(order.length, 12);
});
