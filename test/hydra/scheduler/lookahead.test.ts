import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../../src/hydra/scheduler/index.js';
import { label, uniformModel } from './drive.js';

test('peek on an idle device is what assign would return', () => {
  for (const policy of ['sharded-lrtf', 'round-robin', 'model-lrtf', 'pipeline'] as const) {
    const s = new Scheduler([uniformModel('a', 2, 2), uniformModel('b', 3, 4)], 2, { policy });
    const hint = s.peek(0);
    const t = s.assign(0, 0)!;
    assert.ok(hint, policy);
    assert.equal(`${hint.modelId}${label(hint)}`, `${t.modelId}${label(t)}`, policy);
  }
});

test('sharded-lrtf peek: a lone device keeps the longest model, so it is told to prefetch that model\'s next shard', () => {
  const s = new Scheduler([uniformModel('long', 3, 5), uniformModel('short', 3, 1)], 1);
  const t = s.assign(0, 0)!;
  assert.equal(label(t), 'F0@0');
  assert.equal(label(s.peek(0)!), 'F1@0');
  assert.equal(s.peek(0)!.modelId, 'long');
});

test('sharded-lrtf peek: a device that frees later gets what the earlier devices leave', () => {
  // Three equal models, two devices. Device 0 (short task) frees first and takes the longest ready model 'c'.
  const s = new Scheduler([uniformModel('a', 2, 3, 1), uniformModel('b', 2, 3, 1), uniformModel('c', 2, 3, 1)], 2);
  const a = s.assign(0, 0)!;
  const b = s.assign(1, 0)!;
  s.started(a, 0);
  s.started(b, 0.5);
  assert.equal(s.peek(0)!.modelId, 'c', 'device 0 frees first and takes the untouched model');
  assert.equal(s.peek(1)!.modelId, 'a', 'device 1 frees second: c is gone, a (returned by device 0) is longest');
});

test('model-lrtf peek is always the device\'s own model', () => {
  const s = new Scheduler([uniformModel('a', 3, 2), uniformModel('b', 3, 9)], 2, { policy: 'model-lrtf' });
  s.assign(0, 0);
  assert.equal(s.peek(0)!.modelId, 'b');
  assert.equal(label(s.peek(0)!), 'F1@0');
});

test('pipeline peek: the next task of the running model pinned to this device', () => {
  const s = new Scheduler([uniformModel('a', 4, 2), uniformModel('b', 4, 1)], 2, { policy: 'pipeline' });
  const f0 = s.assign(0, 0)!;
  assert.equal(label(f0), 'F0@0');
  assert.equal(label(s.peek(0)!), 'F1@0', 'shards 0 and 1 live on device 0');
  assert.equal(label(s.peek(1)!), 'F2@0');
});

test('random has no lookahead', () => {
  const s = new Scheduler([uniformModel('a', 2, 2)], 1, { policy: 'random' });
  s.assign(0, 0);
  assert.equal(s.peek(0), null);
});
