import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../src/sim/engine.js';
import { paperGrid } from '../../src/sim/presets.js';
import { paperGridCurves } from '../../src/sim/curves.js';
import { POLICY_NAMES } from '../../src/hydra/scheduler/types.js';
import type { SimResult } from '../../src/sim/types.js';

const STEPS = 64;
const curve = paperGridCurves();
const asha = { rule: { kind: 'asha' as const, metric: 'eval_loss' as const, mode: 'min' as const, grace_steps: 4, reduction_factor: 2, brackets: 1 }, curve };
const deviceSeconds = (r: SimResult) => r.devices.reduce((a, d) => a + d.busySeconds, 0);
const stopped = (r: SimResult) => r.models.filter((m) => m.status === 'stopped').map((m) => `${m.id}: ${m.reason}`);

test('simulator: ASHA on the paper grid spends less device time and keeps the full grid\'s best model', async () => {
  const full = simulate(await paperGrid(8, STEPS));
  const early = simulate(await paperGrid(8, STEPS), { earlyStopping: asha });
  const survivors = early.models.filter((m) => m.status === 'done');
  assert.ok(survivors.length >= 1 && survivors.length < 12, `some models stop (${survivors.length} survive)`);
  // The best model: lowest held-out loss at the end, among the models trained to the end.
  const best = (r: SimResult) => r.models.map((m, i) => ({ m, loss: curve(i, STEPS) })).filter((x) => x.m.status === 'done').sort((a, b) => a.loss - b.loss)[0].m.id;
  assert.equal(best(early), best(full));
  assert.ok(deviceSeconds(early) < deviceSeconds(full) / 2, `${deviceSeconds(early)} vs ${deviceSeconds(full)} device-seconds`);
  assert.ok(early.makespan < full.makespan);
  for (const r of stopped(early)) assert.match(r, /stopped early by asha at rung \d+ \(step \d+\): eval_loss [\d.]+ outside the top of its rung, cutoff [\d.]+/);
});

test('simulator: the same models stop at the same rungs on 1, 3 and 8 devices under every policy', async () => {
  const reference = stopped(simulate(await paperGrid(8, STEPS), { earlyStopping: asha }));
  for (const policy of POLICY_NAMES) {
    for (const devices of [1, 3, 8]) {
      assert.deepEqual(stopped(simulate(await paperGrid(devices, STEPS), { policy, earlyStopping: asha })), reference, `${policy} on ${devices}`);
    }
  }
});
