/** The reducer behind every view of a job: events (as events.jsonl records them) → what the page shows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HydraEvent, PartitionPlan } from '../../src/hydra/api.js';
import { buildView, hostTierSeries, jobEta, lossRange, memorySeries, modelFigures, smooth, varyingHparams } from '../../src/dashboard/job-view.js';
import type { JobMeta } from '../../src/dashboard/job-meta.js';
import { renderTable, renderTimeline } from '../../src/dashboard/client/render-html.js';

const plan: PartitionPlan = {
  key: 'k', arch: 'a', backend: 'js', B: 2, T: 8, budget: 1000, reserve: 0,
  shards: [0, 1].map((i) => ({ from: i, to: i + 1, layerNames: [`l${i}`], paramBytes: 10, inputBytes: 1, peakBytes: { forward: 100 + i, train: 200 + i }, seconds: { forward: 0, backward: 0 } })),
};
const meta: JobMeta = {
  format: 'hydra-job', name: 'j', devices: 'js:2', deviceMemory: 1000, policy: 'sharded-lrtf',
  models: [{ name: 'a', hparams: { lr: 0.1, bs: 2 }, totalSteps: 4 }, { name: 'b', hparams: { lr: 0.2, bs: 2 }, totalSteps: 4 }],
};

/** Model m takes `steps` steps from time t0, one second each: F0 on device 0 (after 0.25 s of copies), then FL1 on device 1. */
function steps(m: string, t0: number, n: number, from = 0): HydraEvent[] {
  const out: HydraEvent[] = [];
  for (let s = from; s < from + n; s++) {
    const t = t0 + (s - from);
    const base = { model: m, step: s };
    out.push({ type: 'task-start', t, device: 0, kind: 'F', shard: 0, ...base });
    out.push({ type: 'task-end', t: t + 0.5, device: 0, kind: 'F', shard: 0, ...base, computeSeconds: 0.25, bytesIn: 10, bytesOut: 1, prefetchedBytes: 0, overlapSeconds: 0 });
    out.push({ type: 'task-start', t: t + 0.5, device: 1, kind: 'FL', shard: 1, ...base });
    out.push({ type: 'task-end', t: t + 1, device: 1, kind: 'FL', shard: 1, ...base, computeSeconds: 0.5, bytesIn: 10, bytesOut: 1, prefetchedBytes: 10, overlapSeconds: 0.1 });
    out.push({ type: 'step', t: t + 1, model: m, step: s, epoch: 0, loss: 5 - s, gradNorm: 1, lr: 0.1 });
  }
  return out;
}

test('steps, evals, statuses, tasks and figures are folded from the events', () => {
  const events: HydraEvent[] = [
    { type: 'plan', model: 'a', plan, reused: false },
    { type: 'plan', model: 'b', plan, reused: true },
    ...steps('a', 0, 2),
    { type: 'eval', t: 2, model: 'a', epoch: 0, loss: 4.5, perplexity: Math.exp(4.5), tokens: 16 },
    // events.jsonl writes NaN as null
    { type: 'model-end', t: 2, model: 'b', status: 'diverged', reason: 'loss became NaN at step 0' },
  ];
  const view = buildView(events, meta);
  const [a, b] = view.models;
  assert.deepEqual(a.losses, [5, 4]);
  assert.deepEqual(a.evals, [{ step: 2, epoch: 0, loss: 4.5, perplexity: Math.exp(4.5) }]);
  assert.equal(a.status, 'running');
  assert.equal(b.status, 'diverged');
  assert.equal(view.tasks.length, 4);
  assert.deepEqual([view.tasks[0].assigned, view.tasks[0].start, view.tasks[0].end], [0, 0.25, 0.5], 'the wait for copies precedes compute');
  assert.equal(view.deviceCount, 2);
  const f = modelFigures(a, view.now);
  assert.equal(f.tokensPerSecond, (2 * 2 * 8) / 2);
  assert.equal(f.etaSeconds, 2, 'two steps left at one second each');
  assert.equal(jobEta(view), 2);
  assert.deepEqual(varyingHparams(view.models), ['lr']);

  const table = renderTable(view);
  assert.match(table, /<tr data-model="a" class="running">/);
  assert.match(table, /loss became NaN at step 0/);
  assert.equal((renderTimeline(view, 600).match(/class="task"/g) ?? []).length, 4, 'one bar per task');
});

test('memory per device: the planned peak of the running shard, 0 between tasks', () => {
  const view = buildView([{ type: 'plan', model: 'a', plan, reused: false }, ...steps('a', 0, 1)], meta);
  const mem = memorySeries(view);
  assert.deepEqual(mem.times, [0, 0.5, 1]);
  assert.deepEqual(mem.devices[0], [100, 0, 0], 'F0: forward peak of shard 0');
  assert.deepEqual(mem.devices[1], [0, 201, 0], 'FL1: training peak of shard 1');
});

test('a resumed job continues the stopped one: its clock follows, a retrained step replaces the old one', () => {
  const first = [{ type: 'plan', model: 'a', plan, reused: false } as HydraEvent, ...steps('a', 0, 3), { type: 'model-end', t: 3, model: 'a', status: 'stopped' } as HydraEvent];
  const resumed = [{ type: 'plan', model: 'a', plan, reused: true } as HydraEvent, ...steps('a', 0, 2, 2)];
  const view = buildView([...first, ...resumed], meta);
  const a = view.models[0];
  assert.deepEqual(a.losses, [5, 4, 3, 2]);
  assert.equal(a.status, 'running');
  assert.deepEqual(a.stepTimes, [1, 2, 4, 5], 'the second segment starts where the first ended');
  assert.equal(view.tasks.length, 10);
});

test('the host tier over time: a point per host-alloc/host-release event, 0 again when a resumed segment starts', () => {
  const alloc = (t: number, model: string, inUse: number): HydraEvent => ({ type: 'host-alloc', t, model, bytes: 500, inUse });
  const first = [alloc(0, 'a', 500), alloc(0.1, 'b', 1000), ...steps('a', 0.2, 2), { type: 'host-release', t: 2.2, model: 'b', bytes: 500, inUse: 500 } as HydraEvent];
  const view = buildView([...first, alloc(0, 'a', 500), ...steps('a', 0.1, 1, 2)], meta);
  const host = hostTierSeries(view);
  assert.deepEqual(host.inUse, [0, 500, 1000, 500, 0, 500, 500]);
  assert.deepEqual(host.times.slice(0, -1), [0, 0, 0.1, 2.2, 2.2, 2.2], 'the second segment follows the first');
  assert.equal(host.times.at(-1), view.now, 'held up to now');
});

test('rungs are folded per model in order; a retrained step drops the rungs after it', () => {
  const rung = (t: number, step: number, action: 'continue' | 'stop'): HydraEvent => ({ type: 'rung', t, model: 'a', step, action, horizon: 4 });
  const view = buildView([...steps('a', 0, 2), rung(2, 2, 'continue'), ...steps('a', 2, 1, 2), rung(3, 3, 'stop')], meta);
  assert.deepEqual(view.models[0].rungs, [{ step: 2, action: 'continue' }, { step: 3, action: 'stop' }]);
  const retrained = buildView([...steps('a', 0, 3), rung(3, 3, 'continue'), ...steps('a', 0, 1, 1)], meta);
  assert.deepEqual(retrained.models[0].rungs, [], 'step 1 retrained: the rung at 3 steps is gone with the steps after it');
});

test('smoothing: debiased exponential moving average; weight 0 is the raw curve', () => {
  assert.deepEqual(smooth([1, 2, 3], 0), [1, 2, 3]);
  const s = smooth([2, 2, 2], 0.9);
  for (const v of s) assert.ok(Math.abs(v - 2) < 1e-12, 'a constant curve stays constant (no pull towards 0)');
  assert.equal(smooth([1, Number.NaN, 1], 0.5).length, 3);
});

test('the loss axis leaves a diverging model\'s outliers out, and keeps every value of a well-behaved few', () => {
  const normal = Array.from({ length: 40 }, (_, i) => 10 - i / 40);
  const [lo, hi] = lossRange([normal, [10, 1e6, 1e12]])!;
  assert.ok(lo < 9.03 && lo > 8.9 && hi > 10 && hi < 10.2, `${lo}..${hi}`);
  const evals = [8.29, 8.53, 9.78, 9.88, 10.19, 10.33];
  const [lo2, hi2] = lossRange([evals])!;
  assert.ok(lo2 < 8.29 && hi2 > 10.33, `${lo2}..${hi2}`);
  assert.equal(lossRange([[null, null]]), null);
});
