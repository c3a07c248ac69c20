import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveOptimal, relabelDevices, type ScheduledTask } from '../../src/sim/milp.js';
import { boundFromWork, lowerBound, taskChains } from '../../src/sim/bounds.js';
import { compareWithOptimal, randomInstance, SMALL } from '../../src/sim/optimality.js';
import { simModel } from './helpers.js';

function assertFeasible(chains: number[][], speeds: number[], schedule: ScheduledTask[], makespan: number): void {
  const eps = 1e-6;
  assert.equal(schedule.length, chains.flat().length);
  for (const t of schedule) {
    assert.ok(Math.abs(t.end - t.start - chains[t.model][t.index] / speeds[t.device]) < eps, 'duration = work / speed');
    assert.ok(t.end <= makespan + eps);
    const prev = schedule.find((u) => u.model === t.model && u.index === t.index - 1);
    if (prev) assert.ok(t.start >= prev.end - eps, 'chain order');
  }
  for (let d = 0; d < speeds.length; d++) {
    const on = schedule.filter((t) => t.device === d).sort((a, b) => a.start - b.start);
    for (let i = 1; i < on.length; i++) assert.ok(on[i].start >= on[i - 1].end - eps, `device ${d} overlap`);
  }
}

test('MILP: known optima, and the optimal schedule it returns is feasible', async () => {
  const cases: [number[][], number[], number][] = [
    [[[2], [2], [2]], [1, 1], 4],
    [[[1, 1], [2]], [1, 1], 2],
    [[[4]], [1, 2], 2],
    [[[1, 1, 1], [1, 1, 1], [3]], [1, 1], 5],
    [[[3, 3], [2]], [1, 2], 3],
  ];
  for (const [chains, speeds, opt] of cases) {
    const r = await solveOptimal(chains, speeds, { timeLimit: 10 });
    assert.equal(r.status, 'optimal', JSON.stringify(chains));
    assert.ok(Math.abs(r.makespan! - opt) < 1e-6, `${JSON.stringify(chains)} on ${speeds}: ${r.makespan} vs ${opt}`);
    assert.equal(r.gap, 0);
    assertFeasible(chains, speeds, r.schedule!, r.makespan!);
  }
});

test('MILP: an instance over the task limit is not attempted; the cheap bound is reported', async () => {
  const r = await solveOptimal([[1, 1, 1], [1, 1]], [1, 1], { maxTasks: 4 });
  assert.equal(r.status, 'too-large');
  assert.equal(r.bound, 3);
  assert.equal(r.makespan, null);
});

test('lower bound: max(total work / total speed, longest chain / fastest speed)', () => {
  assert.deepEqual(boundFromWork([6, 2], [1, 1]), { bound: 6, workBound: 4, chainBound: 6, totalWork: 8 });
  assert.equal(boundFromWork([6, 6, 6], [1, 2]).bound, 6);
  const models = [simModel('a', 2, 3), simModel('b', 1, 2, 2)];
  assert.equal(lowerBound(models, [1]).totalWork, taskChains(models).flat().reduce((a, b) => a + b, 0));
});

test('relabelling equal-speed devices keeps the schedule and satisfies the symmetry-breaking rule', () => {
  const s: ScheduledTask[] = [
    { model: 0, index: 0, device: 2, start: 0, end: 1 },
    { model: 1, index: 0, device: 0, start: 0, end: 1 },
    { model: 2, index: 0, device: 3, start: 0, end: 1 },
  ];
  const r = relabelDevices(s, [1, 1, 1, 2]);
  assert.deepEqual(r.map((t) => t.device), [0, 1, 3]);
});

test('optimality (a few small random instances): the optimum never beats the bound, no policy beats the optimum, Sharded-LRTF is within 15%', async () => {
  for (const seed of [3, 4, 11]) {
    const w = randomInstance(seed, { ...SMALL, models: [3, 4], maxTasks: 14 });
    const c = await compareWithOptimal(w, ['sharded-lrtf', 'round-robin', 'model-lrtf'], 20);
    assert.equal(c.optimal.status, 'optimal', w.name);
    const opt = c.optimal.makespan!;
    assert.ok(lowerBound(w.models, w.devices.map((d) => d.speed)).bound <= opt + 1e-9);
    for (const [p, r] of Object.entries(c.policies)) assert.ok(r.makespan >= opt - 1e-6, `${p} ${r.makespan} below the optimum ${opt}?`);
    assert.ok(c.policies['sharded-lrtf'].ratio <= 1.15, `${w.name}: Sharded-LRTF ${c.policies['sharded-lrtf'].ratio}`);
    assertFeasible(taskChains(w.models), w.devices.map((d) => d.speed), c.optimal.schedule!, opt);
  }
});

test('heterogeneous devices: a critical model is not left to a faster device that will take back its own, longer model', async () => {
  // Random instance 14 (speeds 2, 1.5, 1.5): the fast device runs the longest model (5 tasks, short first one). An
  // earlier Sharded-LRTF kept the second-longest model off the slow devices at t = 0 "for" the fast device, which then
  // took its own model back; the skipped model ran last, 21.5% above the optimum.
  const w = randomInstance(14, { ...SMALL, hetero: true });
  const c = await compareWithOptimal(w, ['sharded-lrtf'], 10);
  assert.equal(c.optimal.status, 'optimal');
  assert.ok(c.policies['sharded-lrtf'].ratio <= 1 + 1e-6, `Sharded-LRTF / optimum = ${c.policies['sharded-lrtf'].ratio}`);
});
