/**
 * Locality survives devices whose speeds differ (configured, or learned from noisy measurements of identical devices):
 * only a model about to become the makespan (critical) is placed by earliest finish; every other decision is LRTF with
 * locality, so a device keeps the model its prefetch hint named. Before, any speed difference above 5 % — on a real
 * run, the noise between two identical devices' learned speeds — sent every decision down the earliest-finish path,
 * which ignored locality: 27 of 72 decisions on bench:grid, breaking a third of the prefetch hints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, shardCost, type Locality, type ModelSpec } from '../../../src/hydra/scheduler/index.js';

const model = (id: string, f: number, steps = 2): ModelSpec => ({ id, shards: [shardCost(f, 2 * f, 1e9)], minibatches: steps });

test('a device slower than another still takes a local model within the margin when no model is critical', () => {
  // a: 2 tasks of 3 s, b: 5.9 s (local to device 0); copies take 0.1 s: margin 0.2 s. Six more 4 s models keep
  // either from being critical.
  const specs = [model('a', 1), { ...model('b', 1), shards: [shardCost(0.95, 2, 1e9)] }, ...Array.from({ length: 6 }, (_, i) => model(`c${i}`, 2 / 3))];
  const locality: Locality = { local: (_d, m) => m === 1, copySeconds: (_d, bytes) => bytes / 1e10, prefetchable: () => true };
  for (const speeds of [[1, 1], [1, 1.2]]) {
    const sched = new Scheduler(specs, 2, { locality, speeds });
    assert.equal(sched.assign(0, 0)!.modelId, 'b', `speeds ${speeds}: b is local and within the margin`);
  }
});

test('a critical model still goes to the device that finishes it first', () => {
  // One long model (critical: its 12 s exceed all work spread over both devices) and a short one; device 1 is twice
  // as fast and busy for 1 s: the slow device 0 leaves the long model to it and takes the short one.
  const specs = [model('long', 2, 3), model('short', 0.5, 1)];
  const locality: Locality = { local: (_d, m) => m === 0, copySeconds: (_d, bytes) => bytes / 1e10, prefetchable: () => true };
  const sched = new Scheduler([...specs, model('busy', 0.1, 1)], 2, { locality, speeds: [1, 2] });
  const busy = sched.assign(1, 0)!; // device 1 takes the longest first (it is free and fastest)
  assert.equal(busy.modelId, 'long');
  sched.complete(busy, 1, 1);
  assert.equal(sched.assign(0, 1)!.modelId, 'short', 'device 0 would finish the critical model later than device 1');
});
