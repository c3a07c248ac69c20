/**
 * Locality-aware Sharded-LRTF finishes the steps a device starts: a model part-way through a step whose next shard is
 * on the device is compared by where it stood when the step began, so its backward runs where its forward left the
 * shard, and models switch at step boundaries (where the next model's first shard can be prefetched). Plain LRTF
 * instead leaves the backward for later (the model is no longer the longest once its forward and loss ran).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, type Locality } from '../../../src/hydra/scheduler/index.js';
import { label, uniformModel } from './drive.js';

function order(locality: boolean): string[] {
  // Three equal 2-shard models, 3 steps each, one device. The next shard of the model the device ran last is local
  // while that model is in the same step (its forward's shard resident, or the next one prefetched beside it); a
  // step changes every shard (as with global-norm clipping), so nothing is local at a step's start.
  const specs = ['a', 'b', 'c'].map((id) => uniformModel(id, 2, 3));
  let last: { model: number; minibatch: number } | null = null;
  let sched: Scheduler;
  const oracle: Locality = {
    local: (_d, m) => last?.model === m && last.minibatch === sched.models[m].next().minibatch,
    copySeconds: () => 0.01,
    prefetchable: () => true,
  };
  sched = new Scheduler(specs, 1, locality ? { locality: oracle } : {});
  const out: string[] = [];
  let now = 0;
  for (let t = sched.assign(0, now); t; t = sched.assign(0, now)) {
    out.push(`${t.modelId}:${label(t)}`);
    last = { model: t.model, minibatch: t.minibatch };
    now += t.kind === 'F' ? 1 : 3;
    sched.complete(t, t.kind === 'F' ? 1 : 3, now);
  }
  return out;
}

test('a device finishes the step it started (all but the last), then switches to the longest model', () => {
  const o = order(true);
  assert.equal(o.length, 27);
  // Every step but each model's last runs F0, FL1, B0 back to back on the device.
  for (let i = 0; i < o.length; i++) {
    const [m, t] = o[i].split(':');
    if (t.startsWith('F0') && !t.endsWith('@2')) {
      assert.deepEqual(o.slice(i, i + 3), [`${m}:F0@${t.slice(3)}`, `${m}:FL1@${t.slice(3)}`, `${m}:B0@${t.slice(3)}`], o.join(' '));
    }
  }
  const plain = order(false);
  assert.notDeepEqual(plain.slice(0, 3), o.slice(0, 3), `plain LRTF interleaves within steps: ${plain.join(' ')}`);
});
