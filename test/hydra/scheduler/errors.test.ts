import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, createPolicy, type ModelSpec, type PolicyName } from '../../../src/hydra/scheduler/index.js';
import { uniformModel } from './drive.js';

test('bad specs are refused with the field, the value and what is accepted', () => {
  const ok = uniformModel('a', 2, 2);
  const cases: [ModelSpec[], number, RegExp][] = [
    [[], 1, /models: expected a non-empty list/],
    [[{ ...ok, id: '' }], 1, /models\[0\]\.id: expected a non-empty string/],
    [[ok, { ...ok }], 1, /models\[1\]\.id: expected a unique model id, got "a"/],
    [[{ ...ok, shards: [] }], 1, /models\[0\]\.shards: expected a non-empty list/],
    [[{ ...ok, shards: [{ ...ok.shards[0], B: -1 }] }], 1, /models\[0\]\.shards\[0\]\.B: expected a finite number ≥ 0, got -1/],
    [[{ ...ok, minibatches: 1.5 }], 1, /models\[0\]\.minibatches: expected an integer ≥ 1, got 1.5/],
    [[{ ...ok, evalBatches: 1, evalAfter: [5] }], 1, /models\[0\]\.evalAfter\[0\]: expected a step index < minibatches \(2\), got 5/],
    [[ok], 0, /devices: expected an integer ≥ 1, got 0/],
  ];
  for (const [models, devices, re] of cases) assert.throws(() => new Scheduler(models, devices), re);
  assert.throws(() => createPolicy('fastest' as PolicyName), /policy: expected one of sharded-lrtf, round-robin, random, model-lrtf, pipeline, got "fastest"/);
});

test('protocol misuse is refused: a busy device, a task not in flight, a device out of range', () => {
  const s = new Scheduler([uniformModel('a', 2, 2), uniformModel('b', 2, 2)], 2);
  const t = s.assign(0, 0)!;
  assert.throws(() => s.assign(0, 0), /device 0 still runs task #0 \(model 'a' F0 of step 0\)/);
  assert.throws(() => s.assign(2, 0), /device: expected an integer in \[0, 1\], got 2/);
  assert.throws(() => s.complete({ ...t, device: 1 }, 1, 1), /task #0 .* is not in flight on device 1/);
  s.complete(t, 1, 1);
  assert.throws(() => s.complete(t, 1, 1), /not in flight/);
});
