/**
 * bench:asha, simulated part — ASHA on the paper-grid preset (12 GPT-2 XL fine-tuning configurations, 2 epochs of
 * WikiText-2, 8 × 16 GiB devices) with synthetic learning curves (src/sim/curves.ts), full grid vs ASHA: device-seconds,
 * makespan, and whether the best model (lowest held-out loss at the end) survives. Deterministic.
 */
import { simulate } from '../src/sim/engine.js';
import { paperGrid } from '../src/sim/presets.js';
import { paperGridCurves } from '../src/sim/curves.js';
import type { SimResult } from '../src/sim/types.js';
import type { EarlyStoppingConfig } from '../src/hydra/scheduler/early-stopping/types.js';
import { machine, table, writeJson } from './common.js';

const rule: EarlyStoppingConfig = { kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: 50, reduction_factor: 3, brackets: 1 };
const curve = paperGridCurves();
const workload = await paperGrid(8);
const deviceSeconds = (r: SimResult) => r.devices.reduce((a, d) => a + d.busySeconds, 0);
const best = (r: SimResult) =>
  r.models.map((m, i) => ({ id: m.id, status: m.status, loss: curve(i, workload.models[i].minibatches) })).filter((m) => m.status === 'done').sort((a, b) => a.loss - b.loss)[0];

const full = simulate(workload);
const asha = simulate(workload, { earlyStopping: { rule, curve } });
const fb = best(full), ab = best(asha);
const result = {
  workload: workload.description,
  early_stopping: rule,
  full_device_s: deviceSeconds(full),
  asha_device_s: deviceSeconds(asha),
  full_makespan_s: full.makespan,
  asha_makespan_s: asha.makespan,
  full_best_eval_loss: fb.loss,
  asha_best_eval_loss: ab.loss,
  same_best: fb.id === ab.id,
  best: ab.id,
  stopped: asha.models.filter((m) => m.status === 'stopped').map((m) => `${m.id}: ${m.reason}`),
  machine: machine(),
};
console.log(table([
  { run: 'full grid (simulated)', device_s: result.full_device_s.toFixed(0), makespan_s: result.full_makespan_s.toFixed(0), best: `${fb.id} ${fb.loss.toFixed(4)}` },
  { run: 'ASHA (simulated)', device_s: result.asha_device_s.toFixed(0), makespan_s: result.asha_makespan_s.toFixed(0), best: `${ab.id} ${ab.loss.toFixed(4)}` },
]));
console.log(`device-seconds ${(result.full_device_s / result.asha_device_s).toFixed(2)}× fewer, makespan ${(result.full_makespan_s / result.asha_makespan_s).toFixed(2)}× shorter, same best: ${result.same_best}`);
writeJson('bench/results/asha-sim.json', result);
