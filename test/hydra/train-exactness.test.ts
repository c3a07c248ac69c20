/**
 * DESIGN §2 exactness, end to end: a model trained by `train()` — sharded (≥ 3 shards), on 2 device workers,
 * interleaved with 3 other models, under every policy — has bitwise the same losses and final parameters as the
 * same model trained alone and unsharded with LocalTrainer. Dropout on, tied embedding, global-norm clipping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend } from '../../src/backend/index.js';
import { train } from '../../src/hydra/job/train.js';
import type { PolicyName } from '../../src/hydra/api.js';
import { TINY, tinyTask, trainAlone, sameBits } from './helpers.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';



const focus = tinyTask('focus', { steps: 4 });
const others = [
  tinyTask('other-a', { seed: 1, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 } }),
  tinyTask('other-b', { seed: 2, clipNorm: 0, steps: 2 }),
  tinyTask('other-c', { seed: 3, model: gpt2Arch({ ...TINY, tie: false, dropout: 0 }) }),
];

const reference = trainAlone(focus, new JsBackend());

const POLICIES: PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];

for (const policy of POLICIES) {
  test(`train(): sharded on js:2 among 3 other models under ${policy} is bitwise equal to training alone`, async () => {
    const ref = await reference;
    const result = await train([focus, ...others], { devices: 'js:2', deviceMemory: 90_000, policy, policySeed: 7, planDir: null });
    const r = result.models.find((m) => m.name === 'focus')!;
    assert.equal(r.status, 'done');
    assert.ok(r.plan.shards.length >= 3, `expected >= 3 shards, got ${r.plan.shards.length}`);
    assert.deepEqual(r.losses, ref.losses);
    for (const [name, t] of ref.params) assert.ok(sameBits(t.data, r.weights.get(name)!.data), `parameter ${name} differs`);
    for (const m of result.models) assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    for (const d of result.devices) assert.ok(d.highWater <= d.budget, `device ${d.id} high water ${d.highWater} > budget ${d.budget}`);
  });
}

test('train(): on cpu:2x1 (two one-thread native devices) sharded + interleaved is bitwise equal to training alone on cpu', async (t) => {
  let be: Backend;
  try {
    be = await createBackend('cpu', { threads: 1 });
  } catch (e) {
    if (e instanceof BackendUnavailableError) return t.skip(e.message);
    throw e;
  }
  const ref = await trainAlone(focus, be);
  be.dispose();
  const result = await train([focus, ...others], { devices: 'cpu:2x1', deviceMemory: 90_000, policy: 'sharded-lrtf', planDir: null });
  const r = result.models.find((m) => m.name === 'focus')!;
  assert.equal(r.status, 'done', r.reason);
  assert.ok(r.plan.shards.length >= 3);
  assert.deepEqual(r.losses, ref.losses);
  for (const [name, p] of ref.params) assert.ok(sameBits(p.data, r.weights.get(name)!.data), `parameter ${name} differs`);
  for (const d of result.devices) assert.ok(d.highWater <= d.budget, `device ${d.id} high water ${d.highWater} > budget ${d.budget}`);
});
