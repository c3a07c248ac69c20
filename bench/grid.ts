/**
 * bench:grid — the paper's 12-configuration grid shape (batch {16, 8} × lr {3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5}) on a
 * GPT-2 small enough for this machine, fixed steps, on cpu:2x1 (two one-thread devices) under every policy, against
 * the usual practice: the same grid one model after another with both cores given to each model (cpu:1x2,
 * unsharded). All runs in one process, side by side.
 *
 * `npm run bench:grid -- --dashboard`: every Hydra run also feeds a live dashboard server with one connected reader
 * (bench/dashboard-load.ts), to compare the makespans with and without it; results go to bench/results/grid-dashboard.json.
 *
 * Two one-after-another baselines: `resident` — each model whole on one 2-thread cpu backend, trained by LocalTrainer
 * (no host tier, no copies: what the usual practice pays) — and `train() cpu:1x2` — the same through train() at
 * 16 GiB (one shard, but parameters copied in and gradients out every task). The whole comparison is repeated
 * REPEATS times (default 3), interleaved; figures are the median and the range over the repetitions. Exactness is
 * checked between runs whose GEMMs use the same thread count (a 2-thread sgemm sums in another order than a 1-thread
 * one): every policy's losses (cpu:2x1, one thread per device) must be bitwise equal to each other, and train()
 * one-after-another (cpu:1x2) bitwise equal to the resident baseline (2 threads); the largest relative difference
 * between the two thread counts is reported beside them.
 *
 * Beside each policy's measured makespan, the simulator's prediction for the same workload (bench/grid-sim.ts: the
 * job's plans through the executor's copy, cache and prefetch rules, with each shard task's seconds measured by
 * running the executor's own tasks alone and beside a second device, the copy bandwidth of those tasks' copies, and
 * the dispatch seconds between a device's tasks from the warm-up run — the task seconds and bandwidth measured again
 * in each repetition, before its timed runs): `predicted_makespan_s` = the measured set-up time + the simulated
 * training time, and `prediction_error` compares each repetition's simulated training time with its measured one.
 * The policies take turns running first in a repetition; Sharded-LRTF's speed against each policy is also paired by
 * repetition (`sharded_lrtf_speed_vs_policy`), with the number of repetitions it was fastest in. Bytes moved,
 * prefetch use and shard-cache hits per policy, predicted and measured; where the devices' time went
 * (`time_split_s`: every task's phases from its worker, summed) beside what the simulator charged for it
 * (`predicted_split_s`).
 *
 * Knobs (env): STEPS (default 3), BUDGET (130MiB), POLICIES (comma-separated), LRS (how many learning rates, 1–6:
 * a smaller grid), REPEATS (3), DEVICE_STATE=0, PREFETCH=0.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/hydra/job/train.js';
import type { HydraEvent, JobResult, LocalityTotals, PolicyName, TrainTask } from '../src/hydra/api.js';
import { buildGpt2, gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import { createCpuBackend } from '../src/backend/cpu.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { CONSTANT_LR } from '../src/optim/schedule.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatPlan } from '../src/hydra/plan/plan-cache.js';
import { formatSpread, machine, randomTokens, repeats, spread, table, writeJson, type Spread } from './common.js';
import { startBenchDashboard } from './dashboard-load.js';
import { dispatchSeconds, measureTaskSeconds, predict, shardSeconds, taskCopyBandwidth, type CalibratedModel } from './grid-sim.js';
import { gradInBytes } from '../src/sim/from-plans.js';
import type { TaskTiming } from '../src/hydra/run/task-timing.js';
import { buildRuntime } from '../src/hydra/run/model-runtime.js';
import { deviceSteppable, stateFits } from '../src/hydra/run/device-state.js';
import { parseBytes } from '../src/hydra/units.js';
import type { PartitionPlan } from '../src/hydra/api.js';

const STEPS = Number(process.env.STEPS ?? 3);
// With the fused LM head's 28 MiB chunks: batch-16 models 2 shards, batch-8 models 1 (127–144 MiB; 145 MiB holds a
// batch-16 model whole).
const BUDGET = process.env.BUDGET ?? '130MiB';
const config = gpt2Config('gpt2-tiny', { n_layer: 4, n_head: 4, n_embd: 128, n_ctx: 64, dropout: 0.1 });
const T = 64;
const LRS = [3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5].slice(0, Number(process.env.LRS ?? 6));
const BATCHES = [16, 8];
const POLICIES: PolicyName[] = (process.env.POLICIES?.split(',') as PolicyName[] | undefined) ?? ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];
const DASHBOARD = process.argv.includes('--dashboard');
// DEVICE_STATE=0: optimizer steps on the host tier (the executor before device-resident state), for before/after.
const DEVICE_STATE = process.env.DEVICE_STATE !== '0';
// PREFETCH=0: every shard copy serial, at its task's start (the policies without the copy thread beside their compute).
const PREFETCH = process.env.PREFETCH !== '0';
const planDir = mkdtempSync(join(tmpdir(), 'hydra-grid-plans-'));
const REPEATS = repeats();

function grid(): TrainTask[] {
  const out: TrainTask[] = [];
  for (const B of BATCHES) {
    for (const lr of LRS) {
      out.push({ name: `bs=${B},lr=${lr}`, model: gpt2Arch(config), optimizer: { ...ADAMW_DEFAULTS, lr }, clipNorm: 1, train: randomTokens(config.vocab_size, B, T, 1000, B), steps: STEPS, seed: 0, hparams: { lr, batch_size: B } });
    }
  }
  return out;
}

/**
 * Every timed job starts after a full collection (the npm script runs node with --expose-gc). A job's host-tier arrays
 * either reuse memory an earlier job freed or take fresh pages, which the kernel must clear — ≈ 2 s of CPU per GB on
 * this machine (clear_page_erms was 16 % of a run's samples in `perf`) — and which one a run got depended on when V8
 * happened to collect the previous run's arrays: step and copy-out phases then took ≈ 3× and 2.5× as long in some
 * runs as in others, the same policy back to back. Collecting first gives every run, baselines included, the same
 * start: memory the earlier runs freed.
 */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench:grid: run node with --expose-gc (npm run bench:grid does): every timed job starts after a full collection');
  gc();
}

/** train() plus the seconds before its first task started (plan lookup, weight init, worker start-up) and every task's timing. */
async function timedTrain(tasks: TrainTask[], options: Parameters<typeof train>[1]): Promise<{ r: JobResult; setup: number; timings: TaskTiming[] }> {
  let setup = -1;
  const timings: TaskTiming[] = [];
  const dashboard = DASHBOARD ? await startBenchDashboard() : undefined;
  collect();
  const r = await train(tasks, {
    ...options,
    onEvent: (e: HydraEvent) => {
      if (e.type === 'task-start' && setup < 0) setup = e.t;
      if (e.type === 'task-end' && e.timing) timings.push(e.timing);
      dashboard?.publish(e);
    },
  });
  if (dashboard) console.log(`  dashboard streamed ${(await dashboard.close()).bytesStreamed} bytes of events`);
  return { r, setup, timings };
}

/** Seconds per timing field, summed over a run's tasks. */
function split(timings: TaskTiming[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of timings) for (const [k, v] of Object.entries(t)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** One model whole on a 2-thread cpu backend (LocalTrainer): seconds with and without set-up, and its losses. */
async function resident(t: TrainTask): Promise<{ seconds: number; setup: number; losses: number[] }> {
  collect();
  const t0 = performance.now();
  const be = createCpuBackend({ threads: 2 });
  const model = buildGpt2(config);
  const trainer = await LocalTrainer.create(be, model, initModel(model, t.seed), { optimizer: t.optimizer, schedule: CONSTANT_LR, clipNorm: t.clipNorm!, totalSteps: STEPS, seed: t.seed });
  const setup = (performance.now() - t0) / 1000;
  const losses: number[] = [];
  try {
    for (let s = 0; s < STEPS; s++) losses.push((await trainer.trainStep({ ...t.train.batch(0, s), B: t.train.B, T: t.train.T })).loss);
  } finally {
    trainer.dispose();
    be.dispose();
  }
  return { seconds: (performance.now() - t0) / 1000, setup, losses };
}

// Plan once up front, for both set-ups (the pilot passes are not part of any run's makespan below).
const warmTasks = () => [grid()[0], grid()[LRS.length]].map((t) => ({ ...t, steps: 2 }));
await train(warmTasks(), { devices: 'cpu:2x1', deviceMemory: BUDGET, planDir, policy: 'sharded-lrtf' });
// The warm-up run (plans cached) is the whole grid, untimed: the process then holds, freed, the memory a job of the
// grid allocates, so the first timed run does not pay fresh pages that the later ones reuse (collect()); and the
// simulator's dispatch seconds come from its tasks.
const { r: warm, timings: warmTimings } = await timedTrain(grid(), { devices: 'cpu:2x1', deviceMemory: BUDGET, planDir, policy: 'sharded-lrtf' });
const planOf = new Map<number, PartitionPlan>(warm.models.map((m) => [m.plan.B, m.plan]));
for (const plan of planOf.values()) console.log(formatPlan(plan));
const budgetBytes = parseBytes(BUDGET, 'BUDGET');
const recipeOf = (t: TrainTask) => ({ optimizer: t.optimizer, schedule: CONSTANT_LR, clipNorm: t.clipNorm ?? 0, totalSteps: STEPS, seed: t.seed });
const runtimeOf = (t: TrainTask) => buildRuntime(buildGpt2(config), planOf.get(t.train.B)!.shards, recipeOf(t), t.train.B, T);
const dispatch = dispatchSeconds(warmTimings);
interface Calibrated { planned: CalibratedModel[]; bandwidth: { alone: number; shared: number }; seconds: Record<string, { alone: CalibratedModel['seconds']; two_at_once: CalibratedModel['seconds'] }> }
/**
 * The simulator's costs, measured on this machine now: each repetition measures them again just before its timed
 * runs, because this machine's speed drifts by ±10 % over minutes and a prediction is only as good as its costs'
 * timeliness (calibrated once before all repetitions, the later repetitions' error was mostly the drift).
 */
async function calibrate(): Promise<Calibrated> {
  const costs = new Map<number, Awaited<ReturnType<typeof measureTaskSeconds>>>();
  for (const B of BATCHES) costs.set(B, await measureTaskSeconds(config, planOf.get(B)!, recipeOf(grid().find((t) => t.train.B === B)!), budgetBytes, STEPS));
  const bandwidth = { alone: taskCopyBandwidth([...costs.values()].map((c) => c.solo)), shared: taskCopyBandwidth([...costs.values()].map((c) => c.shared)) };
  const planned = grid().map((t): CalibratedModel => {
    const plan = planOf.get(t.train.B)!;
    // Which shards the executor steps on their devices (none with DEVICE_STATE=0): those it may step there whose AdamW
    // moments fit beside their planned peak and reserve (the worker's rule). The simulator keeps their copies.
    const rt = runtimeOf(t);
    const fits = (k: number) => stateFits(Math.max(plan.shards[k].peakBytes.forward, plan.shards[k].peakBytes.train), plan.reserve, 2 * plan.shards[k].paramBytes, budgetBytes);
    const deviceSteps = deviceSteppable(rt).map((ok, k) => ok && fits(k));
    const c = costs.get(t.train.B)!;
    return {
      id: t.name, plan, steps: STEPS, clipping: (t.clipNorm ?? 0) > 0, gradInBytes: gradInBytes(rt), ...(DEVICE_STATE ? { deviceSteps } : {}),
      seconds: shardSeconds(plan, c.solo), sharedSeconds: shardSeconds(plan, c.shared),
    };
  });
  const seconds = Object.fromEntries(BATCHES.map((B) => { const m = planned.find((x) => x.plan.B === B)!; return [`batch ${B}`, { alone: m.seconds, two_at_once: m.sharedSeconds }]; }));
  console.log(`simulator calibration: task copies ${(bandwidth.alone / 1e9).toFixed(2)} GB/s alone, ${(bandwidth.shared / 1e9).toFixed(2)} GB/s two at once, dispatch ${(1000 * dispatch).toFixed(1)} ms per task, the executor's shard tasks alone and two at once`);
  return { planned, bandwidth, seconds };
}
for (const t of [grid()[0], grid()[LRS.length]]) await train([{ ...t, steps: 1 }], { devices: 'cpu:1x2', deviceMemory: '16GiB', planDir });

const RESIDENT = 'one-after-another, resident (LocalTrainer, 2 threads)';
const SEQUENTIAL = 'one-after-another, train() cpu:1x2 unsharded';
interface Sample { makespan: number; training: number; bytes: number; overlap: number; utilisation: number; shards: string; failed: number; prefetchUsed: number; cacheHits: number; deviceSteps: number; split?: Record<string, number>; evictedBeforeUse?: number; locality?: LocalityTotals; predicted?: Predicted }
/** The simulator's account of one timed run, from the costs calibrated in the same repetition. */
interface Predicted { training: number; compute: number; copies: number; dispatch: number; bytes: number; prefetchHits: number; prefetchDropped: number; cacheHits: number }
const predictRun = (cal: Calibrated, policy: PolicyName): Predicted => {
  const sim = predict(cal.planned, 2, budgetBytes, cal.bandwidth, dispatch, policy, PREFETCH);
  return {
    training: sim.makespan, compute: sim.devices.reduce((a, d) => a + d.busySeconds, 0), copies: sim.transfers.stallSeconds, dispatch: sim.tasks * dispatch,
    bytes: sim.transfers.bytes + sim.transfers.taskBytes, prefetchHits: sim.transfers.prefetchHits, prefetchDropped: sim.transfers.prefetchDropped, cacheHits: sim.transfers.resident,
  };
};
const calibrations: Calibrated[] = [];
const samples = new Map<string, Sample[]>();
const add = (run: string, x: Sample) => samples.set(run, [...(samples.get(run) ?? []), x]);
let policiesBitwise = true, sequentialBitwise = true, threadsRelDiff = 0;
const same = (a: number[][], b: number[][]) => JSON.stringify(a) === JSON.stringify(b);
const relDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((xs, i) => xs.map((x, k) => Math.abs(x - b[i][k]) / Math.abs(b[i][k]))));
for (let rep = 0; rep < REPEATS; rep++) {
  // The true baseline first: its losses are the reference every other run must equal.
  const ref: number[][] = [];
  let total = 0, setupTotal = 0;
  for (const t of grid()) {
    const r = await resident(t);
    total += r.seconds;
    setupTotal += r.setup;
    ref.push(r.losses);
  }
  add(RESIDENT, { makespan: total, training: total - setupTotal, bytes: 0, overlap: 0, utilisation: 1, shards: '1', failed: 0, prefetchUsed: 0, cacheHits: 0, deviceSteps: 0 });
  let policyRef: number[][] | null = null;
  const cal = await calibrate();
  calibrations.push(cal);
  // The policies take turns going first: a run's place in the repetition (after the resident baseline, after another
  // policy) must not favour one policy in every repetition.
  const order = POLICIES.map((_, i) => POLICIES[(i + rep) % POLICIES.length]);
  for (const policy of order) {
    const { r, setup, timings } = await timedTrain(grid(), { devices: 'cpu:2x1', deviceMemory: BUDGET, planDir, policy, deviceState: DEVICE_STATE, prefetch: PREFETCH });
    const util = r.devices.reduce((a, d) => a + d.utilisation, 0) / r.devices.length;
    add(policy, {
      makespan: r.makespanSeconds, training: r.makespanSeconds - setup, bytes: r.bytesMoved, overlap: r.overlapSeconds, utilisation: util,
      shards: [...new Set(r.models.map((m) => m.plan.shards.length))].join('/'), failed: r.models.filter((m) => m.status !== 'done').length,
      prefetchUsed: r.prefetch.usedBytes, cacheHits: r.shardCache?.hits ?? 0, deviceSteps: r.shardCache?.deviceSteps ?? 0, split: split(timings),
      evictedBeforeUse: r.shardCache?.evictedBeforeUse ?? 0, ...(r.locality ? { locality: r.locality } : {}), predicted: predictRun(cal, policy),
    });
    const losses = r.models.map((m) => m.losses);
    policyRef ??= losses;
    policiesBitwise &&= same(losses, policyRef);
    threadsRelDiff = Math.max(threadsRelDiff, relDiff(losses, ref));
    console.log(`repetition ${rep + 1}/${REPEATS}: ${policy} makespan ${r.makespanSeconds.toFixed(1)} s`);
  }
  let sequential = 0, seqSetup = 0, seqBytes = 0, seqHits = 0, seqSteps = 0;
  const seqLosses: number[][] = [];
  for (const t of grid()) {
    const { r, setup } = await timedTrain([t], { devices: 'cpu:1x2', deviceMemory: '16GiB', planDir, deviceState: DEVICE_STATE });
    sequential += r.makespanSeconds;
    seqSetup += setup;
    seqBytes += r.bytesMoved;
    seqHits += r.shardCache?.hits ?? 0;
    seqSteps += r.shardCache?.deviceSteps ?? 0;
    seqLosses.push(r.models[0].losses);
  }
  sequentialBitwise &&= same(seqLosses, ref);
  add(SEQUENTIAL, { makespan: sequential, training: sequential - seqSetup, bytes: seqBytes, overlap: 0, utilisation: 1, shards: '1', failed: 0, prefetchUsed: 0, cacheHits: seqHits, deviceSteps: seqSteps });
  console.log(`repetition ${rep + 1}/${REPEATS}: resident one-after-another ${total.toFixed(1)} s, train() one-after-another ${sequential.toFixed(1)} s`);
}

// Ratios are taken within each repetition (the runs of one repetition ran back to back), then summarised.
const ratio = (run: string, base: string, key: 'makespan' | 'training'): Spread | null => {
  const a = samples.get(run), b = samples.get(base);
  return a && b ? spread(a.map((x, i) => x[key] / b[i][key])) : null;
};
const prediction = (xs: Sample[]) => {
  if (!xs[0].predicted) return {};
  const ps = xs.map((x) => x.predicted!);
  const med = (f: (p: Predicted) => number) => spread(ps.map(f)).median;
  const setup = spread(xs.map((x) => x.makespan - x.training)).median;
  const fields = Object.keys(xs[0].split ?? {});
  return {
    time_split_s: Object.fromEntries(fields.map((f) => [f, spread(xs.map((x) => x.split![f] ?? 0)).median])),
    predicted_split_s: { compute: med((p) => p.compute), copies: med((p) => p.copies), dispatch: med((p) => p.dispatch) },
    predicted_makespan_s: setup + med((p) => p.training),
    predicted_training_s: spread(ps.map((p) => p.training)),
    // Per repetition: that repetition's simulated training time (from its own calibration) against its measured one.
    prediction_error: spread(xs.map((x) => x.predicted!.training / x.training - 1)),
    predicted_bytes_moved: ps[0].bytes,
    predicted_prefetch_hits: ps[0].prefetchHits,
    predicted_prefetch_dropped: ps[0].prefetchDropped,
    predicted_cache_hits: ps[0].cacheHits,
  };
};
const runs = [...samples].map(([run, xs]) => ({
  run,
  makespan_s: spread(xs.map((x) => x.makespan)),
  training_s: spread(xs.map((x) => x.training)),
  speed_vs_resident: ratio(RESIDENT, run, 'makespan'),
  speed_vs_train_sequential: ratio(SEQUENTIAL, run, 'makespan'),
  bytes_moved: xs[0].bytes,
  prefetch_used_bytes: xs[0].prefetchUsed,
  cache_hits: xs[0].cacheHits,
  device_steps: xs[0].deviceSteps,
  // Why the bytes are what they are (the first repetition, as the bytes): prefetch hints followed and broken,
  // prefetches refused, copies of shards another device held, and cached shards evicted before their next use.
  ...(xs[0].locality ? { locality: xs[0].locality } : {}),
  ...(xs[0].evictedBeforeUse !== undefined ? { evicted_before_use: xs[0].evictedBeforeUse } : {}),
  ...prediction(xs),
  overlap_s: spread(xs.map((x) => x.overlap)),
  utilisation: spread(xs.map((x) => x.utilisation)),
  shards: xs[0].shards,
  failed: Math.max(...xs.map((x) => x.failed)),
}));
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
console.log(table(runs.map((r) => ({
  run: r.run, makespan_s: formatSpread(r.makespan_s, 1), training_s: formatSpread(r.training_s, 1),
  'speed vs resident': r.speed_vs_resident ? formatSpread(r.speed_vs_resident) : '-', 'speed vs train() sequential': r.speed_vs_train_sequential ? formatSpread(r.speed_vs_train_sequential) : '-',
  moved_GB: (r.bytes_moved / 1e9).toFixed(2), utilisation: formatSpread(r.utilisation), cache_hits: r.cache_hits,
  predicted_s: 'predicted_makespan_s' in r ? `${r.predicted_makespan_s!.toFixed(1)} (${pct(r.prediction_error!.median)}; ${pct(r.prediction_error!.min)} to ${pct(r.prediction_error!.max)})` : '-',
}))));
console.log(`(speed = baseline makespan / this run's makespan, > 1 is faster; median (min–max) over ${REPEATS} interleaved repetitions)`);
// Where the devices' seconds went, measured (every task's timing from its worker, summed over both devices) and simulated.
const sum = (o: Record<string, number>, ks: string[]) => ks.reduce((a, k) => a + (o[k] ?? 0), 0);
console.log(table(runs.filter((r) => 'time_split_s' in r).map((r) => {
  const m = r.time_split_s!, p = r.predicted_split_s!;
  return {
    run: r.run, forward: m.forward.toFixed(2), backward: m.backward.toFixed(2), step: m.step.toFixed(2), other: m.other.toFixed(2),
    'compute (sim)': `${sum(m, ['forward', 'backward', 'step', 'other']).toFixed(2)} (${p.compute.toFixed(2)})`,
    'copies (sim)': `${sum(m, ['copyIn', 'copyOut', 'prep']).toFixed(2)} (${p.copies.toFixed(2)})`,
    'between tasks (sim)': `${sum(m, ['gap', 'queued', 'after']).toFixed(2)} (${p.dispatch.toFixed(2)})`,
  };
})));
console.log('(device-seconds summed over both devices; measured: task timings from the workers, median over repetitions; between tasks: the orchestrator round trip, and idle time where the policy leaves a device without work)');
console.log(`exactness: every policy's losses bitwise equal to each other: ${policiesBitwise}; train() one-after-another bitwise equal to resident: ${sequentialBitwise}; 1-thread vs 2-thread GEMM largest relative loss difference ${threadsRelDiff.toExponential(1)}`);
const byMedian = runs.filter((r) => (POLICIES as string[]).includes(r.run)).sort((a, b) => a.makespan_s.median - b.makespan_s.median);
const fastest = byMedian[0];
console.log(`fastest policy by median makespan: ${fastest.run} ${fastest.makespan_s.median.toFixed(1)} s; ranges overlapping it: ${byMedian.filter((r) => r !== fastest && r.makespan_s.min <= fastest.makespan_s.max).map((r) => r.run).join(', ') || 'none'}`);
// Paired within each repetition (the policies ran back to back, so the machine's drift mostly cancels): Sharded-LRTF's
// speed against each other policy, and in how many repetitions it was the fastest.
const lrtf = samples.get('sharded-lrtf');
const paired = lrtf && Object.fromEntries(POLICIES.filter((p) => p !== 'sharded-lrtf').map((p) => [p, spread(samples.get(p)!.map((x, i) => x.makespan / lrtf[i].makespan))]));
const fastestIn = lrtf ? lrtf.filter((x, i) => POLICIES.every((p) => samples.get(p)![i].makespan >= x.makespan)).length : 0;
if (paired) {
  console.log(`sharded-lrtf's speed against each policy, paired by repetition: ${Object.entries(paired).map(([p, x]) => `${p} ${formatSpread(x)}`).join(', ')}`);
  console.log(`sharded-lrtf fastest of the ${POLICIES.length} in ${fastestIn} of ${REPEATS} repetitions`);
}
const head = runs.find((r) => r.run === 'sharded-lrtf');
writeJson(DASHBOARD ? 'bench/results/grid-dashboard.json' : 'bench/results/grid.json', {
  dashboard: DASHBOARD,
  device_state: DEVICE_STATE,
  prefetch: PREFETCH,
  collected_before_each_job: true,
  headline: head && { speed_vs_resident: head.speed_vs_resident, speed_vs_train_sequential: head.speed_vs_train_sequential, training_speed_vs_resident: ratio(RESIDENT, 'sharded-lrtf', 'training') },
  runs,
  repeats: REPEATS,
  fastest_policy: fastest.run,
  ...(paired ? { sharded_lrtf_speed_vs_policy: paired, sharded_lrtf_fastest_repetitions: fastestIn } : {}),
  policies_bitwise_equal: policiesBitwise,
  sequential_bitwise_equal_to_resident: sequentialBitwise,
  one_vs_two_thread_max_rel_loss_diff: threadsRelDiff,
  model: `${config.n_layer} layers, ${config.n_head} heads, n_embd ${config.n_embd}, n_ctx ${config.n_ctx}, vocab ${config.vocab_size}, tied, dropout ${config.dropout}`,
  grid: { batch_sizes: BATCHES, lrs: LRS, steps: STEPS, tokens_per_sample: T },
  device_budget: BUDGET,
  simulator: {
    copy_bandwidth_bytes_per_s: { alone: spread(calibrations.map((c) => c.bandwidth.alone)), two_at_once: spread(calibrations.map((c) => c.bandwidth.shared)) },
    dispatch_seconds: dispatch,
    task_seconds_per_repetition: calibrations.map((c) => c.seconds),
    note: 'measured in each repetition before its timed runs (the executor\'s shard tasks alone and two at once: compute seconds, and the copy bandwidth of their copies; dispatch seconds from the warm-up run); predicted_makespan_s = measured set-up + simulated training (medians); prediction_error = per repetition, simulated / measured training - 1; time_split_s: the timed runs\' task timings summed (median over repetitions), predicted_split_s: the simulated device seconds computing, waiting for copies and being dispatched',
  },
  machine: machine(),
});
