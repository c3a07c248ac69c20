/**
 * bench:grid — the paper's 12-configuration grid shape (batch {16, 8} × lr {3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5}) on a
 * GPT-2 small enough for this machine, fixed steps, on cpu:2x1 (two one-thread devices) under every policy, against
 * the usual practice: the same grid one model after another with both cores given to each model (cpu:1x2,
 * unsharded). All runs in one process, side by side.
 *
 * `npm run bench:grid -- --dashboard`: every Hydra run also feeds a live dashboard server with one connected reader
 * (bench/dashboard-load.ts), to compare the makespans with and without it; results go to bench/results/grid-dashboard.json.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/hydra/job/train.js';
import type { HydraEvent, JobResult, PolicyName, TrainTask } from '../src/hydra/api.js';
import { gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatPlan } from '../src/hydra/plan/plan-cache.js';
import { machine, randomTokens, table, writeJson } from './common.js';
import { startBenchDashboard } from './dashboard-load.js';

const STEPS = Number(process.env.STEPS ?? 3);
const BUDGET = process.env.BUDGET ?? '290MiB';
const config = gpt2Config('gpt2-tiny', { n_layer: 4, n_head: 4, n_embd: 128, n_ctx: 64, dropout: 0.1 });
const T = 64;
const LRS = [3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5];
const BATCHES = [16, 8];
const POLICIES: PolicyName[] = (process.env.POLICIES?.split(',') as PolicyName[] | undefined) ?? ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];
const DASHBOARD = process.argv.includes('--dashboard');
const planDir = mkdtempSync(join(tmpdir(), 'hydra-grid-plans-'));

function grid(): TrainTask[] {
  const out: TrainTask[] = [];
  for (const B of BATCHES) {
    for (const lr of LRS) {
      out.push({ name: `bs=${B},lr=${lr}`, model: gpt2Arch(config), optimizer: { ...ADAMW_DEFAULTS, lr }, clipNorm: 1, train: randomTokens(config.vocab_size, B, T, 1000, B), steps: STEPS, seed: 0, hparams: { lr, batch_size: B } });
    }
  }
  return out;
}

function summary(name: string, r: JobResult, setup: number) {
  const util = r.devices.reduce((a, d) => a + d.utilisation, 0) / r.devices.length;
  const shards = [...new Set(r.models.map((m) => m.plan.shards.length))].join('/');
  return { run: name, makespan_s: r.makespanSeconds, setup_s: setup, utilisation: util, shards, bytes_moved: r.bytesMoved, overlap_s: r.overlapSeconds, failed: r.models.filter((m) => m.status !== 'done').length };
}

/** train() plus the seconds before its first task started (plan lookup, weight init, worker start-up). */
async function timedTrain(tasks: TrainTask[], options: Parameters<typeof train>[1]): Promise<{ r: JobResult; setup: number }> {
  let setup = -1;
  const dashboard = DASHBOARD ? await startBenchDashboard() : undefined;
  const r = await train(tasks, {
    ...options,
    onEvent: (e: HydraEvent) => {
      if (e.type === 'task-start' && setup < 0) setup = e.t;
      dashboard?.publish(e);
    },
  });
  if (dashboard) console.log(`  dashboard streamed ${(await dashboard.close()).bytesStreamed} bytes of events`);
  return { r, setup };
}

// Plan once up front, for both set-ups (the pilot passes are not part of any run's makespan below).
const warm = await train([grid()[0], grid()[6]].map((t) => ({ ...t, steps: 1 })), { devices: 'cpu:2x1', deviceMemory: BUDGET, planDir, policy: 'sharded-lrtf' });
for (const m of warm.models) console.log(formatPlan(m.plan));
for (const t of [grid()[0], grid()[6]]) await train([{ ...t, steps: 1 }], { devices: 'cpu:1x2', deviceMemory: '16GiB', planDir });

const runs: ReturnType<typeof summary>[] = [];
const losses: Record<string, number[][]> = {};
for (const policy of POLICIES) {
  const { r, setup } = await timedTrain(grid(), { devices: 'cpu:2x1', deviceMemory: BUDGET, planDir, policy });
  runs.push(summary(policy, r, setup));
  losses[policy] = r.models.map((m) => m.losses);
  console.log(`${policy}: makespan ${r.makespanSeconds.toFixed(1)} s`);
}
// The usual practice: one model after another, both cores for each, unsharded.
let sequential = 0, seqSetup = 0;
const seqLosses: number[][] = [];
let seqBytes = 0;
for (const t of grid()) {
  const { r, setup } = await timedTrain([t], { devices: 'cpu:1x2', deviceMemory: '16GiB', planDir });
  sequential += r.makespanSeconds;
  seqSetup += setup;
  seqBytes += r.bytesMoved;
  seqLosses.push(r.models[0].losses);
}
runs.push({ run: 'one-after-another (cpu:1x2, unsharded)', makespan_s: sequential, setup_s: seqSetup, utilisation: 1, shards: '1', bytes_moved: seqBytes, overlap_s: 0, failed: 0 });
const lrtf = runs.find((r) => r.run === 'sharded-lrtf');
const ratio = lrtf ? lrtf.makespan_s / sequential : null;
// The fair comparison: without set-up (weight init is the same work in both; the sequential runs also start a worker
// 12 times, which Hydra does once).
const trainingRatio = lrtf ? (lrtf.makespan_s - lrtf.setup_s) / (sequential - seqSetup) : null;
console.log(table(runs.map((r) => ({ ...r, makespan_s: r.makespan_s.toFixed(1), setup_s: r.setup_s.toFixed(1), utilisation: r.utilisation.toFixed(2), overlap_s: r.overlap_s.toFixed(2) }))));
if (ratio !== null && trainingRatio !== null) {
  console.log(`sharded-lrtf makespan / one-after-another = ${ratio.toFixed(3)} (speed-up ${(1 / ratio).toFixed(2)}x); without set-up ${trainingRatio.toFixed(3)} (${(1 / trainingRatio).toFixed(2)}x)`);
}
writeJson(DASHBOARD ? 'bench/results/grid-dashboard.json' : 'bench/results/grid.json', {
  runs,
  dashboard: DASHBOARD,
  ratio_sharded_lrtf_to_sequential: ratio,
  ratio_without_setup: trainingRatio,
  // Same arithmetic everywhere: each model's losses are identical under every policy (exactness).
  losses_identical_across_policies: POLICIES.every((p) => JSON.stringify(losses[p]) === JSON.stringify(losses[POLICIES[0]])),
  model: `${config.n_layer} layers, ${config.n_head} heads, n_embd ${config.n_embd}, n_ctx ${config.n_ctx}, vocab ${config.vocab_size}, tied, dropout ${config.dropout}`,
  grid: { batch_sizes: BATCHES, lrs: LRS, steps: STEPS, tokens_per_sample: T },
  device_budget: BUDGET,
  machine: machine(),
});
