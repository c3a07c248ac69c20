/**
 * TrainTask.stopAtStep, the engine side of cluster segments: models trained segment by segment (each segment a
 * separate train() call resumed from the previous one's checkpoint, segment ends crossing epoch ends and evaluations)
 * end bitwise as one uninterrupted job — losses, evaluations and every parameter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, type TrainOptions } from '../../src/index.js';
import { syntheticSource, tinyTask } from '../hydra/helpers.js';

const tasks = [
  tinyTask('a', { steps: 7, train: syntheticSource(37, 2, 8, 3), eval: syntheticSource(37, 2, 8, 2, 5) }),
  tinyTask('b', { seed: 2, steps: 5 }),
];
const base: TrainOptions = { devices: 'js:2', deviceMemory: 90_000, planDir: null };

test('segments of 2 steps (stopAtStep), each its own train() call, end bitwise as the whole job', async () => {
  const whole = await train(tasks, base);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-segments-'));
  let last = whole;
  for (let end = 2; end < 7 + 2; end += 2) {
    const segment = tasks.map((t) => (end < t.steps! ? { ...t, stopAtStep: end } : t));
    last = await train(segment, { ...base, checkpointDir: dir, resume: end > 2 });
    for (const m of last.models) {
      const t = tasks.find((x) => x.name === m.name)!;
      if (end < t.steps!) {
        assert.equal(m.status, 'stopped', `${m.name} at ${end}`);
        assert.equal(m.steps, end);
        assert.deepEqual(m.checkpoint?.step, end);
        assert.match(m.reason!, new RegExp(`stopped at step ${end} \\(stopAtStep\\)`));
      }
    }
  }
  for (const w of whole.models) {
    const g = last.models.find((m) => m.name === w.name)!;
    assert.equal(g.status, 'done');
    assert.deepEqual(g.losses, w.losses, `${w.name}: losses`);
    assert.deepEqual(g.evals, w.evals, `${w.name}: evals`);
    for (const [name, t] of w.weights) assert.ok(Buffer.from(g.weights.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), `${w.name}: ${name}`);
  }
  await assert.rejects(train([{ ...tasks[1], stopAtStep: 0 }], base), /tasks\[0\] \('b'\)\.stopAtStep: expected a positive integer, got 0/);
});
