/** Checks shared by the train() tests that sweep budgets and compare runs bit for bit. */
import assert from 'node:assert/strict';
import { train } from '../../src/hydra/job/train.js';
import type { JobResult, TrainTask } from '../../src/hydra/api.js';
import { LayerTooLargeError } from '../../src/hydra/plan/partitioner.js';
import { layerFloor, modelBytes } from '../../src/hydra/plan/memory-check.js';
import { buildArch } from '../../src/nn/families.js';
import { sameBits } from './helpers.js';

/** The smallest budget the partitioner accepts for these models (it says so when given the analytic floor). */
export async function minBudget(ts: TrainTask[]): Promise<number> {
  const floor = Math.max(...ts.flatMap((t) => modelBytes(t.name, buildArch(t.model), t.train.B, t.train.T, 2).layers.map(layerFloor)));
  return train(ts, { devices: 'js:1', deviceMemory: floor, planDir: null }).then(
    () => assert.fail('the analytic floor should be too small'),
    (e: unknown) => {
      assert.ok(e instanceof LayerTooLargeError && e.minBudget !== undefined);
      return e.minBudget;
    },
  );
}

/** Every model of both jobs finished with the same losses, evaluations and weights, bit for bit. */
export function assertSameBits(a: JobResult, b: JobResult, what: string): void {
  for (const [i, m] of a.models.entries()) {
    const o = b.models[i];
    assert.equal(m.status, 'done', `${what}: ${m.name} ${m.reason ?? ''}`);
    assert.deepEqual(m.losses, o.losses, `${what}: ${m.name} losses`);
    assert.deepEqual(m.evals.map((e) => e.loss), o.evals.map((e) => e.loss), `${what}: ${m.name} evaluations`);
    assert.equal(m.weights.size, o.weights.size, `${what}: ${m.name} number of weights`);
    for (const [name, w] of m.weights) assert.ok(sameBits(w.data, o.weights.get(name)!.data), `${what}: ${m.name} ${name}`);
  }
}
