/**
 * bench:asha — model selection with early stopping: a grid of small GPT-2s (6 learning rates × batch {8, 4}) trained
 * on WikiText-2 text on cpu:2x1, once in full and once under ASHA, side by side in one process. Reports device-seconds
 * (the sum of every device's busy time) and makespan of both, and whether ASHA keeps the full grid's best model
 * (lowest held-out loss after the last step). A survivor of ASHA trains bitwise as in the full grid, so "the same
 * best model" means the same name and the same loss, to the bit.
 *
 * Sizes: STEPS (default 30), GRACE (3), ETA (3), EVAL_TOKENS (1024), DEVICES (cpu:2x1).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/hydra/job/train.js';
import type { EarlyStoppingConfig } from '../src/hydra/scheduler/early-stopping/types.js';
import type { JobResult, TrainTask } from '../src/hydra/api.js';
import { parseTrainConfig } from '../src/config/schema.js';
import { buildTasks } from '../src/cli/train-tasks.js';
import { wikitextFile, WIKITEXT_MISSING } from '../test/data/shared-data.js';
import { machine, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 30);
const GRACE = Number(process.env.GRACE ?? 3);
const ETA = Number(process.env.ETA ?? 3);
const DEVICES = process.env.DEVICES ?? 'cpu:2x1';
const trainFile = wikitextFile('valid.txt'), evalFile = wikitextFile('test.txt');
if (!trainFile || !evalFile) throw new Error(WIKITEXT_MISSING);

const config = parseTrainConfig(
  {
    name: 'bench-asha',
    model: { n_layer: 2, n_head: 2, n_embd: 64, n_ctx: 64, dropout: 0.1 },
    data: { train: trainFile, eval: evalFile, format: 'wikitext', eval_tokens: Number(process.env.EVAL_TOKENS ?? 1024) },
    optimizer: { kind: 'adamw', weight_decay: 0.01 },
    schedule: { warmup_steps: 3, decay: 'cosine', min_ratio: 0.1 },
    clip_norm: 1.0,
    grid: { lr: [3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5], batch_size: [8, 4] },
    steps: STEPS,
    devices: DEVICES,
    device_memory: '256MiB',
  },
  { baseDir: process.cwd(), checkFiles: true },
);
const { tasks } = buildTasks(config, { log: (l) => console.log(l) });
const asha: EarlyStoppingConfig = { kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: GRACE, reduction_factor: ETA, brackets: 1 };
const planDir = mkdtempSync(join(tmpdir(), 'hydra-asha-plans-'));
const opts = { devices: config.devices, deviceMemory: config.deviceMemory, planDir, policy: config.policy };

// Plan both batch shapes first: the pilot passes belong to neither run.
await train(tasks.filter((t, i) => i === 0 || t.train.B !== tasks[0].train.B).slice(0, 2).map((t): TrainTask => ({ ...t, steps: 1, eval: undefined })), opts);

const deviceSeconds = (r: JobResult) => r.devices.reduce((a, d) => a + d.busySeconds, 0);
/** The best model trained to the end: lowest held-out loss after its last step. */
function best(r: JobResult): { name: string; loss: number } {
  const done = r.models.filter((m) => m.status === 'done').map((m) => ({ name: m.name, loss: m.evals.at(-1)!.loss }));
  return done.sort((a, b) => a.loss - b.loss)[0];
}

const full = await train(tasks, opts);
console.log(`full grid: ${deviceSeconds(full).toFixed(1)} device-s, makespan ${full.makespanSeconds.toFixed(1)} s`);
const early = await train(tasks, { ...opts, earlyStopping: asha });
console.log(`ASHA: ${deviceSeconds(early).toFixed(1)} device-s, makespan ${early.makespanSeconds.toFixed(1)} s`);

const rows = tasks.map((t, i) => {
  const f = full.models[i], a = early.models[i];
  return {
    model: t.name,
    full_eval_loss: f.evals.at(-1)!.loss.toFixed(4),
    asha: a.status === 'done' ? 'done' : `stopped at ${a.steps}`,
    asha_eval_loss: a.evals.at(-1)!.loss.toFixed(4),
    full_device_s: f.deviceSeconds.toFixed(1),
    asha_device_s: a.deviceSeconds.toFixed(1),
  };
});
console.log(table(rows));
const fb = best(full), ab = best(early);
const result = {
  full_device_s: deviceSeconds(full),
  asha_device_s: deviceSeconds(early),
  full_makespan_s: full.makespanSeconds,
  asha_makespan_s: early.makespanSeconds,
  full_best_eval_loss: fb.loss,
  asha_best_eval_loss: ab.loss,
  same_best: fb.name === ab.name && fb.loss === ab.loss,
  full_best: fb.name,
  asha_best: ab.name,
  device_s_ratio: deviceSeconds(full) / deviceSeconds(early),
  makespan_ratio: full.makespanSeconds / early.makespanSeconds,
  setup: { models: tasks.length, steps: STEPS, early_stopping: asha, devices: DEVICES, model: '2 layers, 2 heads, n_embd 64, n_ctx 64, vocab 50257', data: 'WikiText-2 valid (train) / test (held out)' },
  models: rows,
  machine: machine(),
  note: process.env.BENCH_NOTE ?? 'measured while other jobs shared the machine: absolute seconds are noisy; the ratios are what to read',
};
console.log(table([{ run: 'full grid', device_s: result.full_device_s.toFixed(1), makespan_s: result.full_makespan_s.toFixed(1), best: `${fb.name} ${fb.loss.toFixed(4)}` }, { run: 'ASHA', device_s: result.asha_device_s.toFixed(1), makespan_s: result.asha_makespan_s.toFixed(1), best: `${ab.name} ${ab.loss.toFixed(4)}` }]));
console.log(`device-seconds ${result.device_s_ratio.toFixed(2)}× fewer, makespan ${result.makespan_ratio.toFixed(2)}× shorter, same best model: ${result.same_best}`);
writeJson('bench/results/asha.json', result);
