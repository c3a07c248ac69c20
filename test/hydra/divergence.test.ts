import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { HydraEvent } from '../../src/hydra/api.js';
import { tinyTask } from './helpers.js';

test('train(): a model whose loss becomes NaN is marked diverged at that step; the others finish normally', async () => {
  const events: HydraEvent[] = [];
  const blowUp = tinyTask('blow-up', { optimizer: { kind: 'sgd', lr: 1e38, momentum: 0, nesterov: false, weightDecay: 0 }, clipNorm: 0, steps: 4 });
  const result = await train([blowUp, tinyTask('healthy-a', { seed: 4 }), tinyTask('healthy-b', { seed: 5 })], {
    devices: 'js:2', deviceMemory: 90_000, planDir: null, onEvent: (e) => events.push(e),
  });
  const bad = result.models.find((m) => m.name === 'blow-up')!;
  assert.equal(bad.status, 'diverged');
  assert.match(bad.reason!, /at step 1/);
  assert.equal(bad.losses.length, 2);
  assert.ok(Number.isFinite(bad.losses[0]) && !Number.isFinite(bad.losses[1]));
  for (const name of ['healthy-a', 'healthy-b']) {
    const m = result.models.find((x) => x.name === name)!;
    assert.equal(m.status, 'done');
    assert.equal(m.steps, 3);
    assert.ok(m.losses.every(Number.isFinite));
  }
  // no task of the diverged model runs after the step it diverged at
  const afterEnd = events.findIndex((e) => e.type === 'model-end' && e.model === 'blow-up');
  assert.ok(afterEnd >= 0);
  assert.ok(!events.slice(afterEnd).some((e) => e.type === 'task-start' && e.model === 'blow-up'));
});

test('train(): a model whose task fails is marked failed with the reason; the others finish', async () => {
  const broken = tinyTask('broken', { steps: 3 });
  const source = broken.train;
  broken.train = { ...source, batch: (e, s) => {
    if (s === 1) throw new Error('disk read error (simulated)');
    return source.batch(e, s);
  } };
  const result = await train([broken, tinyTask('fine', { seed: 9 })], { devices: 'js:2', deviceMemory: 90_000, planDir: null });
  const b = result.models.find((m) => m.name === 'broken')!;
  assert.equal(b.status, 'failed');
  assert.match(b.reason!, /step 1 failed: disk read error \(simulated\)/);
  const f = result.models.find((m) => m.name === 'fine')!;
  assert.equal(f.status, 'done');
  assert.equal(f.steps, 3);
});
