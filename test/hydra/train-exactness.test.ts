/**
 * DESIGN §2 exactness, end to end: models of different shapes and families — GPT-2s of two shapes (tied and
 * untied) and a user-defined chain — trained by `train()` in one job, sharded (the focus in ≥ 3 shards), on 2 device
 * workers, interleaved, under every policy, each have bitwise the same losses and final parameters as the same model
 * trained alone and unsharded with LocalTrainer. Dropout on, tied embedding, global-norm clipping, SGD and AdamW.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend } from '../../src/backend/index.js';
import { train } from '../../src/hydra/job/train.js';
import type { JobResult, PolicyName, TrainTask } from '../../src/hydra/api.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { TINY, sameBits, syntheticSource, tinyTask, trainAlone } from './helpers.js';
import './fixtures/mlp-family.js';

const focus = tinyTask('focus', { steps: 4 });
const tasks: TrainTask[] = [
  focus,
  tinyTask('other-a', { seed: 1, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 } }),
  tinyTask('other-b', { seed: 2, clipNorm: 0, steps: 2 }),
  // Another GPT-2 shape: fewer, narrower blocks with more heads, untied.
  tinyTask('wide', { seed: 3, model: gpt2Arch({ ...TINY, n_layer: 2, n_head: 3, n_embd: 12, tie: false, dropout: 0.1 }), train: syntheticSource(37, 2, 8, 3, 1) }),
  // Not a GPT-2: a user's own family, whose shard boundaries differ in size.
  tinyTask('mlp', { seed: 4, model: { family: 'test-mlp', config: { preset: 'small' } }, steps: 3 }),
];

const POLICIES: PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];

async function references(be: () => Promise<Backend>) {
  const refs = new Map<string, Awaited<ReturnType<typeof trainAlone>>>();
  for (const t of tasks) {
    const b = await be();
    refs.set(t.name, await trainAlone(t, b));
    b.dispose();
  }
  return refs;
}

function assertAllAlone(result: JobResult, refs: Awaited<ReturnType<typeof references>>): void {
  const f = result.models.find((m) => m.name === 'focus')!;
  assert.ok(f.plan.shards.length >= 3, `expected >= 3 shards, got ${f.plan.shards.length}`);
  assert.ok(new Set(result.models.map((m) => m.plan.arch)).size >= 3, 'the job mixes at least three architectures');
  for (const m of result.models) {
    const ref = refs.get(m.name)!;
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    for (const [name, t] of ref.params) assert.ok(sameBits(t.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  for (const d of result.devices) assert.ok(d.highWater <= d.budget, `device ${d.id} high water ${d.highWater} > budget ${d.budget}`);
}

const jsRefs = references(async () => new JsBackend());

for (const policy of POLICIES) {
  test(`train(): models of three shapes sharded on js:2 under ${policy}, each bitwise equal to training alone`, async () => {
    const result = await train(tasks, { devices: 'js:2', deviceMemory: 90_000, policy, policySeed: 7, planDir: null });
    assertAllAlone(result, await jsRefs);
  });
}

let cpuRefs: ReturnType<typeof references> | null = null;
for (const policy of POLICIES) {
  test(`train(): models of three shapes sharded on cpu:2x1 (one-thread native devices) under ${policy}, each bitwise equal to training alone on cpu`, async (t) => {
    try {
      (await createBackend('cpu', { threads: 1 })).dispose();
    } catch (e) {
      if (e instanceof BackendUnavailableError) return t.skip(e.message);
      throw e;
    }
    cpuRefs ??= references(() => createBackend('cpu', { threads: 1 }));
    const result = await train(tasks, { devices: 'cpu:2x1', deviceMemory: 90_000, policy, policySeed: 7, planDir: null });
    assertAllAlone(result, await cpuRefs);
  });
}
