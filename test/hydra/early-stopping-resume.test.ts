/**
 * ASHA resumed after an earlier model ended (diverged) while later models went on past their rungs: the resumed job
 * must re-create those decisions. Before, the later models waited again at rungs they had long passed (the ended
 * model was not replayed as ended), and the scheduler refused a negative horizon on --resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import type { JobResult, TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { syntheticSource, tinyTask } from './helpers.js';

const STEPS = 8;
const eval_ = syntheticSource(37, 2, 8, 2, 5);
// Model 0 diverges at once (lr 1e30); the others train on and are judged at rungs 2 and 4.
const LRS = [1e30, 5e-3, 1e-5, 2e-3, 1e-2];
const tasks: TrainTask[] = LRS.map((lr, i) => tinyTask(`lr=${lr}`, { steps: STEPS, optimizer: { ...ADAMW_DEFAULTS, lr }, seed: 11 + i, eval: eval_ }));
const base: TrainOptions = {
  devices: 'js:2', deviceMemory: 90_000, planDir: null,
  earlyStopping: { kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: 2, reduction_factor: 2, brackets: 1 },
};
const outcome = (r: JobResult) => r.models.map((m) => `${m.name}: ${m.status} after ${m.steps}`);

test('ASHA resume after an earlier model diverged: same stops, same results as the uninterrupted job', async () => {
  const whole = await train(tasks, base);
  assert.equal(whole.models[0].status, 'diverged', outcome(whole).join('\n'));
  assert.ok(whole.models.some((m) => m.status === 'done' && m.steps === STEPS), outcome(whole).join('\n'));
  const dir = mkdtempSync(join(tmpdir(), 'hydra-asha-diverged-'));
  const stop = new AbortController();
  // Stop once some model has passed rung 2 (step index 4 is its fifth step).
  const first = await train(tasks, { ...base, checkpointDir: dir, signal: stop.signal, onEvent: (e) => void (e.type === 'step' && e.step === 4 && stop.abort()) });
  assert.ok(first.models.some((m) => m.status === 'stopped' && m.steps > 2), outcome(first).join('\n'));
  const second = await train(tasks, { ...base, checkpointDir: dir, resume: true });
  assert.deepEqual(outcome(second), outcome(whole));
  for (const [i, m] of second.models.entries()) {
    const w = whole.models[i];
    assert.deepEqual([m.losses, m.evals, m.reason], [w.losses, w.evals, w.reason], m.name);
  }
});
