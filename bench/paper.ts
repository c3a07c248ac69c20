/**
 * bench:paper — the Hydra paper's 12 configurations (batch {16, 8} × lr {3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5}: the
 * grid src/sim/presets.ts defines) on the real GPT-2 124M architecture (12 layers, 12 heads, n_embd 768, vocab
 * 50257, tied head, dropout 0.1) with 128-token blocks of WikiText-2 text, a few AdamW steps each (clip norm 1,
 * weight decay 0.01, constant learning rate):
 *
 *   hydra    all 12 at once on `cpu:2x1` (two one-thread devices) with a device budget that cuts the batch-16 models
 *            into shards (BUDGET, default 2560 MiB: batch 16 in 2 shards, batch 8 whole — the plans are in the JSON);
 *   pytorch  the same grid one model after another by plain PyTorch at 2 threads (bench/paper_torch.py, Debian's
 *            /usr/bin/python3 with torch 1.13): what a user would otherwise run. Same model, same batches (the token
 *            files hydra-dl's data pipeline produced), same optimizer settings, same steps; its own initialisation.
 *
 * Reported: each side's makespan (hydra: train() from its call to the last step, plans made beforehand and timed
 * apart — `planning_s`; pytorch: build, initialise and train every model, after `import torch`), their ratio, tokens
 * per second, and every model's final training loss on both sides.
 *
 *   npm run bench:paper                          the full run (≈ 12–15 min on a quiet 2-core machine)
 *   STEPS=1 CONFIGS=2 SHAPE=gpt2-tiny npm run bench:paper     a smoke run (seconds)
 *   STEPS=2 CONFIGS=4 SHAPE=gpt2-tiny BUDGET=1MiB HOST_MEMORY=2MiB npm run bench:paper   the same with state on disk
 *   DRY_RUN=1 npm run bench:paper                the plans, the placement and the RAM line only (nothing trains)
 *
 * STEPS (default 3), CONFIGS (the first N of the 12, default 12), SHAPE (a GPT-2 preset, default gpt2), T (block
 * size, default 128), BUDGET (per-device memory, default 2560MiB), DEVICES (default cpu:2x1), THREADS (PyTorch's,
 * default 2), HOST_MEMORY (the host cap, default the default share of RAM). Results: bench/results/paper.json (a
 * smoke run's: $TMPDIR/hydra-paper-smoke.json).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/hydra/job/train.js';
import { previewPlacement } from '../src/hydra/job/preview.js';
import type { HydraEvent, TrainTask } from '../src/hydra/api.js';
import { parseTrainConfig } from '../src/config/schema.js';
import { buildTasks } from '../src/cli/train-tasks.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { PAPER_BATCHES, PAPER_LRS } from '../src/sim/presets.js';
import { formatPlan } from '../src/hydra/plan/plan-cache.js';
import { wikitextFile, WIKITEXT_MISSING } from '../test/data/shared-data.js';
import { machine, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 3);
const CONFIGS = Number(process.env.CONFIGS ?? PAPER_LRS.length * PAPER_BATCHES.length);
const SHAPE = process.env.SHAPE ?? 'gpt2';
const T = Number(process.env.T ?? 128);
const BUDGET = process.env.BUDGET ?? '2560MiB';
const DEVICES = process.env.DEVICES ?? 'cpu:2x1';
const THREADS = Number(process.env.THREADS ?? 2);
const HOST_MEMORY = process.env.HOST_MEMORY;
const CLIP = 1.0;
for (const [name, v] of Object.entries({ STEPS, CONFIGS, T, THREADS })) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: expected a whole number ≥ 1, got ${process.env[name]}`);
}
const FULL = STEPS === 3 && CONFIGS === 12 && SHAPE === 'gpt2' && T === 128 && !HOST_MEMORY;
const trainFile = wikitextFile('valid.txt');
if (!trainFile) throw new Error(WIKITEXT_MISSING);

const config = parseTrainConfig(
  {
    name: 'bench-paper',
    model: { preset: SHAPE },
    block_size: T,
    data: { train: trainFile, format: 'wikitext' },
    optimizer: { kind: 'adamw', weight_decay: ADAMW_DEFAULTS.weightDecay, betas: [ADAMW_DEFAULTS.beta1, ADAMW_DEFAULTS.beta2], eps: ADAMW_DEFAULTS.eps },
    clip_norm: CLIP,
    grid: { batch_size: PAPER_BATCHES, lr: PAPER_LRS },
    steps: STEPS,
    devices: DEVICES,
    device_memory: BUDGET,
  },
  { baseDir: process.cwd(), checkFiles: true },
);
const { tasks: all } = buildTasks(config, { log: (l) => console.log(l) });
const tasks = all.slice(0, CONFIGS);
const work = mkdtempSync(join(tmpdir(), 'hydra-paper-'));
const planDir = join(work, 'plans');
// 12 GPT-2s with their moments need more than the default cap (60 % of this machine's RAM less the two devices'
// budgets and the runtime allowance): the placement puts what is read least per byte on disk (the plan's lines say
// what, and the RAM line what the job holds in RAM in all). HOST_MEMORY: another cap (a smoke run forcing the disk tier).
const opts = { devices: DEVICES, deviceMemory: BUDGET, planDir, spillDir: join(work, 'spill'), ...(HOST_MEMORY ? { hostMemory: HOST_MEMORY } : {}) };
mkdirSync(opts.spillDir);

// Plans first (one pilot per batch shape: the plan cache's key leaves the learning rate out), timed apart: they are
// cached, as they would be for a second grid. The whole grid's placement across RAM and disk is printed with them.
const p0 = performance.now();
const placement = await previewPlacement(tasks, opts);
for (const line of placement) console.log(line);
const planningSeconds = (performance.now() - p0) / 1000;
if (process.env.DRY_RUN) {
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

// ---- PyTorch: one model after another, on the same batches ------------------------------------------------------
// First: hydra-dl's job holds its host tier and device memory until it returns (the results then hold the final
// weights of parameters the host tier held), and this process does not give that memory back to the OS at once; run
// after it, PyTorch pushed the two past RAM (OOM-killed, 2026-11-30, before the final weights went to a file).
const modelFiles = tasks.map((t, i) => {
  const { B, T: t_ } = t.train;
  const n = B * t_;
  const data = new Int32Array(2 * STEPS * n);
  for (let s = 0; s < STEPS; s++) {
    // The step → (epoch, step) mapping of train() (model-job.ts).
    const b = t.train.batch(Math.floor(s / t.train.stepsPerEpoch), s % t.train.stepsPerEpoch);
    data.set(b.tokens, s * n);
    data.set(b.targets, (STEPS + s) * n);
  }
  const file = join(work, `tokens-${i}.bin`);
  writeFileSync(file, data);
  return file;
});
const arch = tasks[0].model.config as Record<string, unknown>;
const manifest = {
  threads: THREADS,
  model: { n_layer: arch.n_layer, n_head: arch.n_head, n_embd: arch.n_embd, n_ctx: arch.n_ctx, vocab_size: arch.vocab_size, dropout: arch.dropout },
  optimizer: { beta1: ADAMW_DEFAULTS.beta1, beta2: ADAMW_DEFAULTS.beta2, eps: ADAMW_DEFAULTS.eps, weight_decay: ADAMW_DEFAULTS.weightDecay },
  clip_norm: CLIP,
  models: tasks.map((t, i) => ({ name: t.name, lr: (t.optimizer as { lr: number }).lr, B: t.train.B, T: t.train.T, steps: STEPS, seed: t.seed ?? 0, tokens_file: modelFiles[i] })),
};
const manifestFile = join(work, 'manifest.json');
writeFileSync(manifestFile, JSON.stringify(manifest));
const py = spawnSync('/usr/bin/python3', ['bench/paper_torch.py', manifestFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
const torchOut = JSON.parse(py.stdout.trim().split('\n').at(-1) ?? '{}') as {
  error?: string; seconds: number; torch_version: string; torch_threads: number; params: number; load_avg_1m_before: number; load_avg_1m_after: number;
  models: { name: string; seconds: number; train_seconds: number; losses: number[] }[];
};
if (py.status !== 0 || torchOut.error) throw new Error(`bench/paper_torch.py: ${torchOut.error ?? `exit ${py.status}`}`);

// ---- hydra-dl: every configuration at once ----------------------------------------------------------------------
const loadBefore = loadavg()[0];
let firstTask = -1;
const hydra = await train(tasks, { ...opts, onEvent: (e: HydraEvent) => void (e.type === 'task-start' && firstTask < 0 && (firstTask = e.t)) });
for (const m of hydra.models.filter((m, i) => hydra.models.findIndex((n) => n.plan.B === m.plan.B) === i)) console.log(formatPlan(m.plan));
const whole16 = hydra.models.filter((m) => m.plan.B === 16 && m.plan.shards.length < 2);
if (FULL && whole16.length) throw new Error(`BUDGET ${BUDGET} holds the batch-16 models whole (${whole16[0].name}): give a smaller BUDGET, so that they are sharded`);
const failed = hydra.models.filter((m) => m.status !== 'done');
if (failed.length) throw new Error(`hydra: ${failed.map((m) => `${m.name} ${m.status}`).join(', ')}`);
console.log(`hydra: makespan ${hydra.makespanSeconds.toFixed(1)} s (first task at ${firstTask.toFixed(1)} s)`);


rmSync(work, { recursive: true, force: true });

// ---- side by side -----------------------------------------------------------------------------------------------
const tokens = tasks.reduce((a, t) => a + STEPS * t.train.B * t.train.T, 0);
const rows = tasks.map((t, i) => ({
  model: t.name,
  shards: hydra.models[i].plan.shards.length,
  hydra_final_loss: hydra.models[i].losses.at(-1)!,
  pytorch_final_loss: torchOut.models[i].losses.at(-1)!,
  hydra_first_loss: hydra.models[i].losses[0],
  pytorch_first_loss: torchOut.models[i].losses[0],
  pytorch_seconds: torchOut.models[i].seconds,
}));
console.log(table(rows.map((r) => ({ ...r, hydra_final_loss: r.hydra_final_loss.toFixed(4), pytorch_final_loss: r.pytorch_final_loss.toFixed(4), hydra_first_loss: r.hydra_first_loss.toFixed(4), pytorch_first_loss: r.pytorch_first_loss.toFixed(4), pytorch_seconds: r.pytorch_seconds.toFixed(1) }))));
const result = {
  makespan_s: { hydra: hydra.makespanSeconds, pytorch_one_after_another: torchOut.seconds },
  speed_ratio: torchOut.seconds / hydra.makespanSeconds,
  tokens_per_s: { hydra: tokens / hydra.makespanSeconds, pytorch_one_after_another: tokens / torchOut.seconds },
  tokens,
  planning_s: planningSeconds,
  hydra_first_task_s: firstTask,
  models: rows,
  hydra: {
    devices: DEVICES, device_budget: BUDGET, policy: hydra.policy,
    plans: Object.fromEntries(hydra.models.map((m) => [m.name, m.plan.shards.length])),
    bytes_moved: hydra.bytesMoved, host_tier: hydra.hostTier, disk_tier: hydra.diskTier, peak_rss_bytes: hydra.peakRssBytes, placement,
    utilisation: hydra.devices.map((d) => d.utilisation),
  },
  pytorch: { python: '/usr/bin/python3', torch_version: torchOut.torch_version, threads: torchOut.torch_threads, params: torchOut.params },
  settings: {
    grid: { batch_sizes: PAPER_BATCHES, lrs: PAPER_LRS, configurations: CONFIGS }, steps: STEPS, model: `${SHAPE}: ${JSON.stringify(manifest.model)}, tied head`, tokens_per_sample: T,
    optimizer: { ...ADAMW_DEFAULTS, lr: 'per configuration', schedule: 'constant', clip_norm: CLIP },
    data: 'WikiText-2 valid.txt (GPT-2 tokenizer, 128-token blocks); both sides train on the same batches; initialisations differ (same GPT-2 scheme)',
  },
  load_avg_1m: { before_pytorch: torchOut.load_avg_1m_before, after_pytorch: torchOut.load_avg_1m_after, before_hydra: loadBefore },
  machine: machine(),
  // Judged by the load before the PyTorch side started: right after it, its own two threads hold the 1-minute load
  // average near 2, which says nothing about other jobs.
  note: process.env.BENCH_NOTE ?? (torchOut.load_avg_1m_before > 1 ? 'measured while other jobs shared the machine: seconds are noisy' : 'quiet machine'),
};
console.log(table([
  { run: `hydra-dl ${DEVICES} at ${BUDGET}`, makespan_s: hydra.makespanSeconds.toFixed(1), tokens_per_s: result.tokens_per_s.hydra.toFixed(0) },
  { run: `PyTorch ${THREADS} threads, one after another`, makespan_s: torchOut.seconds.toFixed(1), tokens_per_s: result.tokens_per_s.pytorch_one_after_another.toFixed(0) },
]));
console.log(`speed ratio (PyTorch one after another / hydra-dl): ${result.speed_ratio.toFixed(2)}×; planning (not in the makespan) ${planningSeconds.toFixed(1)} s`);
writeJson(FULL ? 'bench/results/paper.json' : join(tmpdir(), 'hydra-paper-smoke.json'), result);
