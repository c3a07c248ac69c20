/**
 * Time to the first training step at a real model size (`npm run bench:startup`): gpt2-medium (B = 1, T = 128) on
 * cpu:1x2 with a 1 GiB device budget (≥ 4 shards), from process start to the first shard task and to step 1, plan
 * cache cold (fresh directory) and warm (the same directory again); beside PyTorch's set-up of the same model
 * (bench/startup_torch.py under Debian's /usr/bin/python3: build, init, first step) at the same 2 threads.
 *
 *   npm run bench:startup [-- --repeats 3] [-- --preset gpt2-large --repeats 1] [-- --multi 3 --repeats 1]
 *
 * Each run is a fresh process (node or python) started by this one; times are measured from just before the spawn
 * to wall-clock stamps the child prints, so they include loading the runtime. Writes bench/results/startup.json
 * (bench/results/startup-<preset>.json for another preset) with first_task_s, first_step_s, pytorch_first_step_s
 * (medians, cold plan cache), `profile` (where the seconds go: the median of each phase, see runHydra) and every run
 * with the CPU seconds and page faults of its process. The machine may be shared: the load average is recorded with
 * each run and `under_load` says whether it exceeded half the cores.
 *
 * The multi-model row: a job of MULTI_MODELS gpt2 (124 M) models (an lr grid, 2 steps each, same devices and budget),
 * set up overlapped with training (the default: the first model trains once its first shard is initialised, the
 * others get their state behind it) and not (overlapSetUp false: every model set up first), one after the other in
 * each repeat, fresh plan cache each: time to the job's first task and to its end, and the devices' busy share.
 * `--multi K` runs only this row (K models) and writes bench/results/startup-multi.json; the default run adds it to
 * startup.json as `multi`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../src/hydra/job/train.js';
import { gpt2Arch } from '../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { machine, median, randomTokens, table, writeJson } from './common.js';

const B = 1, T = 128, DEVICES = 'cpu:1x2', BUDGET = '1GiB', THREADS = 2;
const MULTI_MODELS = 3, MULTI_PRESET = 'gpt2', MULTI_STEPS = 2;

interface ChildTimes {
  /** Wall-clock stamps (ms since the epoch). */
  trainCalled: number;
  planned: number;
  initialised: number;
  firstTask: number;
  firstStep: number;
  shards: number;
  reused: boolean;
  /** The process's CPU seconds and minor page faults up to the first task and up to step 1 (process.resourceUsage). */
  atFirstTask: Usage;
  atFirstStep: Usage;
}

interface Usage {
  user_s: number;
  system_s: number;
  minor_faults: number;
}

function usage(): Usage {
  const u = process.resourceUsage();
  return { user_s: u.userCPUTime / 1e6, system_s: u.systemCPUTime / 1e6, minor_faults: u.minorPageFault };
}

/** The measured process: one train() of one step, printing its stamps as one JSON line. */
async function child(preset: string, planDir: string): Promise<void> {
  const stamps: Partial<ChildTimes> = {};
  const model = gpt2Arch(preset);
  stamps.trainCalled = Date.now();
  await train([{
    name: preset, model, optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4 }, clipNorm: 1, train: randomTokens(50257, B, T, 4), steps: 1, seed: 0,
  }], {
    devices: DEVICES, deviceMemory: BUDGET, planDir,
    onEvent: (e) => {
      if (e.type === 'plan') Object.assign(stamps, { planned: Date.now(), shards: e.plan.shards.length, reused: e.reused });
      if (e.type === 'log' && / initialised in /.test(e.message)) stamps.initialised = Date.now();
      if (e.type === 'task-start' && stamps.firstTask === undefined) Object.assign(stamps, { firstTask: Date.now(), atFirstTask: usage() });
      if (e.type === 'step' && stamps.firstStep === undefined) Object.assign(stamps, { firstStep: Date.now(), atFirstStep: usage() });
      if (e.type === 'log' && process.env.HYDRA_BENCH_VERBOSE) console.error(e.message);
    },
  });
  console.log(JSON.stringify(stamps));
}

/** The measured multi-model process: one train() of `k` models, overlapped or not, printing its stamps. */
async function childMulti(k: number, overlap: boolean, planDir: string): Promise<void> {
  let firstTask: number | undefined;
  const trainCalled = Date.now();
  const r = await train(Array.from({ length: k }, (_, i) => ({
    name: `lr${i}`, model: gpt2Arch(MULTI_PRESET), optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4 * (i + 1) }, clipNorm: 1,
    train: randomTokens(50257, B, T, 4, i), steps: MULTI_STEPS, seed: i,
  })), {
    devices: DEVICES, deviceMemory: BUDGET, planDir, overlapSetUp: overlap,
    onEvent: (e) => {
      if (e.type === 'task-start') firstTask ??= Date.now();
    },
  });
  const busy = r.devices.reduce((a, d) => a + d.busySeconds, 0);
  console.log(JSON.stringify({ trainCalled, firstTask, ended: Date.now(), busy_share: busy / (r.devices.length * r.makespanSeconds), shards: r.models[0].plan.shards.length }));
}

/** One multi-model job in a fresh process: seconds from the spawn to its first task and to its end. */
function runMulti(k: number, overlap: boolean) {
  const planDir = mkdtempSync(join(tmpdir(), 'hydra-bench-startup-multi-'));
  try {
    const t0 = Date.now(), load = loadavg()[0];
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child-multi', String(k), overlap ? '1' : '0', planDir], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) throw new Error(`hydra multi-model child failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
    const c = JSON.parse(line) as { trainCalled: number; firstTask: number; ended: number; busy_share: number; shards: number };
    return { first_task_s: (c.firstTask - t0) / 1000, end_s: (c.ended - t0) / 1000, busy_share: c.busy_share, shards: c.shards, load_avg_1m: load };
  } finally {
    rmSync(planDir, { recursive: true, force: true });
  }
}

/** The multi-model row over the repeats: overlapped and not, side by side in each repeat. */
function multiRow(k: number, repeats: number) {
  const runs: { overlapped: ReturnType<typeof runMulti>; sequential: ReturnType<typeof runMulti> }[] = [];
  for (let r = 0; r < repeats; r++) {
    const overlapped = runMulti(k, true), sequential = runMulti(k, false);
    runs.push({ overlapped, sequential });
    console.log(`multi ${r + 1}/${repeats} (${k} × ${MULTI_PRESET}, ${overlapped.shards} shards): first task ${overlapped.first_task_s.toFixed(1)} s overlapped vs ${sequential.first_task_s.toFixed(1)} s set up first; job end ${overlapped.end_s.toFixed(1)} vs ${sequential.end_s.toFixed(1)} s`);
  }
  const med = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f));
  return {
    models: k, preset: MULTI_PRESET, steps: MULTI_STEPS,
    overlapped: { first_task_s: med((r) => r.overlapped.first_task_s), end_s: med((r) => r.overlapped.end_s), busy_share: med((r) => r.overlapped.busy_share) },
    sequential: { first_task_s: med((r) => r.sequential.first_task_s), end_s: med((r) => r.sequential.end_s), busy_share: med((r) => r.sequential.busy_share) },
    runs,
  };
}

/**
 * One run in a fresh process. Phases (seconds, consecutive, summing to first_step_s): `start` node and the imports
 * up to train(); `plan` the plan (pilot pass + partitioner, or the plan cache); `init` host-tier state and weight
 * initialisation; `devices` starting the device workers up to the first task; `first_step` that task up to step 1.
 * Where set-up overlaps training, a phase that ends after the first task counts as 0 in `devices`.
 */
function runHydra(preset: string, planDir: string) {
  const t0 = Date.now(), load = loadavg()[0];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', preset, planDir], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`hydra child failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  const c = JSON.parse(line) as ChildTimes;
  if (c.shards < 4) throw new Error(`${preset} planned into ${c.shards} shards under ${BUDGET}: the bench needs a budget that forces at least 4`);
  const s = (t: number) => (t - t0) / 1000;
  const initEnd = Math.min(c.initialised, c.firstTask);
  return {
    plan_s: s(c.planned), init_s: s(c.initialised), first_task_s: s(c.firstTask), first_step_s: s(c.firstStep),
    phases: {
      start: s(c.trainCalled), plan: (c.planned - c.trainCalled) / 1000, init: Math.max(0, initEnd - c.planned) / 1000,
      devices: Math.max(0, c.firstTask - Math.max(c.planned, initEnd)) / 1000, first_step: (c.firstStep - c.firstTask) / 1000,
    },
    at_first_task: c.atFirstTask, at_first_step: c.atFirstStep,
    shards: c.shards, plan_reused: c.reused, load_avg_1m: load,
  };
}

type HydraRun = ReturnType<typeof runHydra>;
type TorchRun = { error: string } | { import_s: number; build_s: number; setup_s: number; first_step_s: number; torch_version: string; load_avg_1m: number };

function runTorch(preset: string): TorchRun {
  const shape = { 'gpt2-medium': [24, 16, 1024], 'gpt2-large': [36, 20, 1280], 'gpt2-xl': [48, 25, 1600] }[preset];
  if (!shape) return { error: `no PyTorch shape for ${preset}` };
  const t0 = Date.now(), load = loadavg()[0];
  const args = ['bench/startup_torch.py', '--threads', String(THREADS), '--n-layer', String(shape[0]), '--n-head', String(shape[1]), '--n-embd', String(shape[2]), '--batch', String(B), '--seq', String(T)];
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (r.error) return { error: `could not run /usr/bin/python3: ${r.error.message}` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const j = JSON.parse(line.startsWith('{') ? line : '{"error":"no output"}') as Record<string, number | string>;
  if (j.error) return { error: String(j.error) };
  const s = (t: number) => (t * 1000 - t0) / 1000;
  return { import_s: s(j.imported as number), build_s: s(j.built as number), setup_s: s(j.initialised as number), first_step_s: s(j.first_step as number), torch_version: String(j.torch_version), load_avg_1m: load };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2]);
  if (argv[0] === '--child-multi') return childMulti(Number(argv[1]), argv[2] === '1', argv[3]);
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const preset = opt('preset', 'gpt2-medium');
  const repeats = Number(opt('repeats', '3'));
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new RangeError(`--repeats: expected a positive integer, got ${opt('repeats', '')}`);
  const onlyMulti = argv.includes('--multi');
  const k = Number(opt('multi', String(MULTI_MODELS)));
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`--multi: expected a whole number of models ≥ 2, got ${opt('multi', '')}`);
  if (onlyMulti) {
    const load = loadavg()[0];
    const multi = multiRow(k, repeats);
    const busy = Math.max(load, ...multi.runs.flatMap((r) => [r.overlapped.load_avg_1m, r.sequential.load_avg_1m])) > machine().cores * 0.5;
    writeJson('bench/results/startup-multi.json', { bench: 'startup-multi', machine: machine(), B, T, devices: DEVICES, deviceMemory: BUDGET, repeats, multi, under_load: busy });
    return;
  }
  const runs: { cold: HydraRun; warm: HydraRun; pytorch: TorchRun }[] = [];
  for (let r = 0; r < repeats; r++) {
    const planDir = mkdtempSync(join(tmpdir(), 'hydra-bench-startup-'));
    try {
      const cold = runHydra(preset, planDir);
      const warm = runHydra(preset, planDir);
      const pytorch = runTorch(preset);
      runs.push({ cold, warm, pytorch });
      console.log(`run ${r + 1}/${repeats}: cold ${cold.first_task_s.toFixed(1)} s to first task, ${cold.first_step_s.toFixed(1)} s to step 1; warm ${warm.first_task_s.toFixed(1)} / ${warm.first_step_s.toFixed(1)} s; PyTorch ${'error' in pytorch ? pytorch.error : `${pytorch.first_step_s.toFixed(1)} s`}`);
    } finally {
      rmSync(planDir, { recursive: true, force: true });
    }
  }
  const stat = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  const phases = (which: 'cold' | 'warm') => Object.fromEntries(Object.keys(runs[0][which].phases).map((k) => [k, median(runs.map((r) => r[which].phases[k as keyof HydraRun['phases']]))]));
  const torchRuns = runs.map((r) => r.pytorch).filter((p): p is Exclude<TorchRun, { error: string }> => !('error' in p));
  const summary = {
    cold_first_task_s: stat(runs.map((r) => r.cold.first_task_s)),
    cold_first_step_s: stat(runs.map((r) => r.cold.first_step_s)),
    warm_first_task_s: stat(runs.map((r) => r.warm.first_task_s)),
    warm_first_step_s: stat(runs.map((r) => r.warm.first_step_s)),
    pytorch_setup_s: torchRuns.length ? stat(torchRuns.map((p) => p.setup_s)) : null,
    pytorch_first_step_s: torchRuns.length ? stat(torchRuns.map((p) => p.first_step_s)) : null,
  };
  // Where the seconds go (medians of each phase): the profile the README quotes.
  const profile = { cold: phases('cold'), warm: phases('warm'), pytorch: torchRuns.length ? Object.fromEntries((['import_s', 'build_s', 'setup_s', 'first_step_s'] as const).map((k) => [k, median(torchRuns.map((p) => p[k]))])) : null };
  console.log('phases (s, medians):', JSON.stringify(profile));
  const multi = multiRow(k, repeats);
  const loads = [...runs.flatMap((r) => [r.cold.load_avg_1m, r.warm.load_avg_1m]), ...multi.runs.flatMap((r) => [r.overlapped.load_avg_1m, r.sequential.load_avg_1m])];
  const busy = Math.max(...loads) > machine().cores * 0.5;
  console.log(table(Object.entries(summary).filter(([, v]) => v).map(([k, v]) => ({ figure: k, median: v!.median, min: v!.min, max: v!.max }))));
  const out = preset === 'gpt2-medium' ? 'bench/results/startup.json' : `bench/results/startup-${preset}.json`;
  writeJson(out, {
    bench: 'startup', machine: machine(), preset, B, T, devices: DEVICES, deviceMemory: BUDGET, threads: THREADS, repeats,
    first_task_s: summary.cold_first_task_s.median,
    first_step_s: summary.cold_first_step_s.median,
    pytorch_first_step_s: summary.pytorch_first_step_s?.median ?? null,
    summary,
    profile,
    multi,
    under_load: busy,
    runs,
    note: `seconds from spawning the process; medians over the repeats; ${busy ? `MEASURED UNDER LOAD (1-min load average up to ${Math.max(...loads).toFixed(1)} on ${machine().cores} cores): every figure is inflated` : 'the machine was quiet (load average below half the cores)'}`,
  });
}

await main();
