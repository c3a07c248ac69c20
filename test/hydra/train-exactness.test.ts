/**
 * DESIGN §2 exactness, end to end: a model trained by `train()` — sharded (≥ 3 shards), on 2 device workers (js:2,
 * and cpu:2x1: two one-thread native devices), interleaved with 3 other models, under every policy — has bitwise
 * the same losses and final parameters as the same model trained alone and unsharded with LocalTrainer. Dropout on,
 * tied embedding, global-norm clipping. The model's tasks must really have been spread over both devices (except
 * under model-lrtf, which by definition keeps a model on the device that took it), so that "moved between devices"
 * is tested rather than left to timing: a job that kept it on one device is rerun, up to ATTEMPTS jobs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/index.js';
import { train } from '../../src/hydra/job/train.js';
import type { PolicyName } from '../../src/hydra/api.js';
import { cpuSkipReason } from '../backend/helpers.js';
import { TINY, tinyTask, trainAlone, sameBits } from './helpers.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';


const focus = tinyTask('focus', { steps: 4 });
// Two of the others train longer than `focus`: under the LRTF policies `focus` is then not always the longest model,
// so the device it just ran on often takes another model and its next task goes to whichever device frees first.
const others = [
  tinyTask('other-a', { seed: 1, steps: 6, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 } }),
  tinyTask('other-b', { seed: 2, clipNorm: 0, steps: 2 }),
  tinyTask('other-c', { seed: 3, steps: 6, model: gpt2Arch({ ...TINY, tie: false, dropout: 0 }) }),
];

const POLICIES: PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];

/** The reference on each backend kind: null when the kind cannot run here (then the reason is the skip). */
const references = {
  js: trainAlone(focus, new JsBackend()),
  cpu: (async () => {
    let be: Backend;
    try {
      be = await createBackend('cpu', { threads: 1 });
    } catch (e) {
      const reason = await cpuSkipReason(e);
      if (reason === null) throw e;
      return reason;
    }
    try {
      return await trainAlone(focus, be);
    } finally {
      be.dispose();
    }
  })(),
};

/** Jobs per policy at most: which device takes a task depends on timing, so a job may keep the model on one device. */
const ATTEMPTS = 4;

for (const [kind, devices] of [['js', 'js:2'], ['cpu', 'cpu:2x1']] as const) {
  for (const policy of POLICIES) {
    test(`train(): sharded on ${devices} among 3 other models under ${policy} is bitwise equal to training alone`, async (t) => {
      const ref = await references[kind];
      if (typeof ref === 'string') return t.skip(ref);
      const moves = policy !== 'model-lrtf';
      // Every job must be bitwise equal; jobs are rerun (with another policy seed) until one moved the model.
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const ranOn = new Set<number>();
        const result = await train([focus, ...others], {
          devices, deviceMemory: 90_000, policy, policySeed: 7 + attempt, planDir: null,
          onEvent: (e) => e.type === 'task-start' && e.model === 'focus' && ranOn.add(e.device),
        });
        const r = result.models.find((m) => m.name === 'focus')!;
        for (const m of result.models) assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
        assert.ok(r.plan.shards.length >= 3, `expected >= 3 shards, got ${r.plan.shards.length}`);
        assert.deepEqual(r.losses, ref.losses);
        for (const [name, p] of ref.params) assert.ok(sameBits(p.data, r.weights.get(name)!.data), `parameter ${name} differs`);
        if (!moves) return assert.equal(ranOn.size, 1, 'model-lrtf keeps a model on one device');
        if (ranOn.size === 2) return t.diagnostic(`the model moved between devices in job ${attempt + 1}`);
      }
      assert.fail(`in ${ATTEMPTS} jobs the model's tasks never ran on both devices: moving between devices was not tested`);
    });
  }
}
