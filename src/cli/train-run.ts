/**
 * `hydra train CONFIG` end to end, with the engine and output streams injected so tests can drive it with a fake
 * engine: load + validate the config and the output directory, lock the output directory (moving an earlier run's
 * files aside unless resuming), build the tasks, stream events to events.jsonl and the progress display, then print
 * the ranked results and write results.json, results.csv and each model's weights — results first, so a full disk
 * costs weights, never results. Whatever could not be written is listed at the end (`writeFailures`).
 */
import { join, relative } from 'node:path';
import type { HydraEvent, JobResult, ModelResult, TrainOptions, TrainTask } from '../hydra/api.js';
import { describeGpt2 } from '../nn/gpt2.js';
import { describeArch } from '../nn/families.js';
import { ConfigError } from '../config/errors.js';
import { inConfigWords } from '../config/config-words.js';
import { loadTrainConfig } from '../config/load.js';
import { applyOverrides, type CliOverrides } from '../config/overrides.js';
import { hparamSpec } from '../config/hparams.js';
import { expandGrid, gridSize } from '../config/grid.js';
import type { TrainConfig } from '../config/schema.js';
import { EventsWriter } from '../report/events-writer.js';
import { formatBytes } from '../report/format.js';
import { PlanPrinter } from '../report/plan-summary.js';
import { createProgress } from '../report/progress.js';
import { formatHparams, renderJobSummary, renderResultsTable } from '../report/results-table.js';
import { describeFailure, hasWeightsToSave, writeResults } from '../report/write-results.js';
import { fsSafeNames } from '../report/names.js';
import type { TensorLike } from '../io/streamed-tensor.js';
import { sweepStaleTemps } from '../data/atomic-write.js';
import { prepareOutDir, validateOutDir } from '../io/out-dir.js';
import { movePreviousRun } from '../io/previous-run.js';
import { lockOutDir } from '../io/run-lock.js';
import { buildTasks, type BuiltJob, type InitWeights } from './train-tasks.js';
import { JobWatch, type DashboardFlag } from '../dashboard/job-watch.js';

export type TrainFn = (tasks: TrainTask[], options: TrainOptions) => Promise<JobResult>;
/** `--dry-run`'s placement preview (previewPlacement): lines saying where each model's state would live. */
export type PreviewFn = (tasks: TrainTask[], options: TrainOptions) => Promise<string[]>;

export interface TrainRunDeps {
  train: TrainFn;
  /** With --dry-run: plan the models and print the placement (absent: only list the models, reading no data). */
  preview?: PreviewFn;
  /** Results table and summary. */
  stdout: NodeJS.WritableStream;
  /** Progress, data and plan lines. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Open init.from (hfGpt2Weights); needed only when the config has init. */
  loadInit?: (dir: string) => Promise<InitWeights & { warnings?: string[] }>;
  /** Save a model's final weights into dir (saveModelWeights: its family's HF layout). Absent: no weights are written. */
  saveModel?: (dir: string, model: TrainTask['model'], weights: Map<string, TensorLike>) => Promise<void>;
  cwd?: string;
  cacheDir?: string;
  progressMode?: 'bars' | 'lines';
  /** Plain-line progress interval in steps. */
  progressEvery?: number;
  /**
   * Ctrl-C / SIGTERM stop the job gracefully: every model finishes its minibatch and is checkpointed, results are
   * written, and the run ends with 130 / 143. A second signal restores the terminal, closes events.jsonl and exits
   * at once. Only for the real command: a handler keeps Node from exiting by itself.
   */
  handleSignals?: boolean;
  /** Stops the job like a first Ctrl-C (tests). */
  signal?: AbortSignal;
}

export interface TrainRunFlags extends CliOverrides {
  /** Validate and print the models without training. */
  dryRun?: boolean;
  /** Continue every model from its checkpoint in <out_dir>/checkpoints (models without one start afresh). */
  resume?: boolean;
  /** Serve the live dashboard while the job runs. */
  dashboard?: DashboardFlag;
}

export interface TrainRunOutcome {
  config: TrainConfig;
  job?: BuiltJob;
  result?: JobResult;
  outDir: string;
  /** The signal that stopped the job (the command exits 130 / 143). */
  stoppedBy?: NodeJS.Signals;
  /** What could not be written (each names the file and why); non-empty: the command exits non-zero. */
  writeFailures: string[];
}

export async function runTrain(configFile: string, flags: TrainRunFlags, deps: TrainRunDeps): Promise<TrainRunOutcome> {
  const cwd = deps.cwd ?? process.cwd();
  const info = (line: string) => deps.stderr.write(`${line}\n`);
  const config = loadTrainConfig(configFile, { cwd, transform: (raw) => applyOverrides(raw, flags, cwd) });
  // Before anything slow: a bad output directory (a file, read-only, under /proc) fails now, not after planning.
  const outField = flags.out !== undefined ? '--out' : 'out_dir';
  validateOutDir(config.outDir, outField);

  let init: (InitWeights & { warnings?: string[] }) | undefined;
  if (config.initFrom) {
    if (!deps.loadInit) throw new Error('init.from is set but no checkpoint loader is available');
    init = await deps.loadInit(config.initFrom);
    info(`init: ${config.initFrom}: ${describeGpt2(init.config)}`);
    for (const w of init.warnings ?? []) info(`init: warning: ${w}`);
  }

  info(describeJob(config));
  if (flags.dryRun) {
    for (const v of blameFile(configFile, () => expandGrid(config, init?.config))) {
      deps.stdout.write(`${v.name}: ${formatHparams(v.hparams)}; ${describeArch(v.spec.model)}, B=${v.spec.batchSize} T=${v.spec.blockSize}, ${v.spec.optimizer.kind} lr=${v.spec.optimizer.lr}\n`);
    }
    if (deps.preview) {
      const job = blameFile(configFile, () => buildTasks(config, { init, log: info, cacheDir: deps.cacheDir }));
      for (const line of await deps.preview(job.tasks, trainOptions(config))) deps.stdout.write(`${inConfigWords(line)}\n`);
    }
    return { config, outDir: config.outDir, writeFailures: [] };
  }

  prepareOutDir(config.outDir, outField);
  const lock = lockOutDir(config.outDir, `hydra train ${configFile}${flags.resume ? ' --resume' : ''}`);
  try {
    return await runLocked(configFile, flags, deps, config, init);
  } finally {
    lock.release();
  }
}

async function runLocked(configFile: string, flags: TrainRunFlags, deps: TrainRunDeps, config: TrainConfig, init: InitWeights | undefined): Promise<TrainRunOutcome> {
  const cwd = deps.cwd ?? process.cwd();
  const info = (line: string) => deps.stderr.write(`${line}\n`);
  const show = (p: string) => {
    const rel = relative(cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
  };
  for (const p of sweepStaleTemps(config.outDir)) info(`removed ${show(p)}, a partial file left by an interrupted run`);
  if (!flags.resume) {
    const moved = movePreviousRun(config.outDir);
    if (moved) info(`${show(config.outDir)} held an earlier run: moved its ${moved.entries.join(', ')} to ${show(moved.dir)} (to continue that run instead, move them back and use --resume)`);
  }

  const job = blameFile(configFile, () => buildTasks(config, { init, log: info, cacheDir: deps.cacheDir }));
  for (const [T, n] of job.evalBlocks) info(`eval: every model with block size ${T} evaluates the same ${n} held-out blocks (${n * T} tokens)`);
  const events = new EventsWriter(join(config.outDir, 'events.jsonl'), flags.resume === true);
  const checkpointDir = join(config.outDir, 'checkpoints');
  const progress = createProgress({ models: job.totals, stream: deps.stderr, mode: deps.progressMode, everySteps: deps.progressEvery });
  const plans = new PlanPrinter((line) => progress.log(line));
  const onEvent = (e: HydraEvent) => {
    events.write(e);
    watch.publish(e);
    if (e.type === 'plan') plans.onPlan(e.model, e.plan, e.reused);
    else progress.onEvent(inConfigWordsEvent(e));
  };

  const stop = new AbortController();
  deps.signal?.addEventListener('abort', () => stop.abort());
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stoppedBy) {
      stoppedBy = signal;
      progress.log(`${signal}: stopping — each model finishes its current step and is checkpointed in ${show(checkpointDir)}; press Ctrl-C again to quit at once`);
      stop.abort();
      return;
    }
    progress.stop();
    events.close();
    deps.stderr.write(`\ninterrupted (${signal}); events so far are in ${events.path}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  // The dashboard's stop button takes Ctrl-C's path (and the job exits as for Ctrl-C).
  let watch: JobWatch;
  try {
    watch = await JobWatch.start(config.outDir, {
      format: 'hydra-job', name: config.name, devices: config.devices, deviceMemory: config.deviceMemory, policy: config.policy,
      ...(config.hostMemory !== undefined ? { hostMemory: config.hostMemory } : {}),
      models: job.totals.map((t, i) => ({ name: t.name, hparams: job.variants[i].hparams, totalSteps: t.totalSteps })),
    }, flags.dashboard, () => {
      if (stoppedBy) return;
      progress.log('dashboard: stop pressed');
      onSignal('SIGINT');
    }, info);
  } catch (err) {
    // E.g. the port is taken: nothing has trained; leave the terminal and events.jsonl as a finished job would.
    progress.stop();
    events.close();
    throw err;
  }
  if (watch.url) info(`dashboard: ${watch.url}`);
  if (deps.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const startedAt = new Date().toISOString();
  const modelConfigs = new Map(job.tasks.map((t) => [t.name, t.model]));
  const saveModel = deps.saveModel;
  // A model with state on disk is saved from the tiers while the job ends (streamed: never whole in RAM), into the
  // directory writeResults would give it; the others after the results files, from their results.
  const modelDirs = fsSafeNames(job.tasks.map((t) => t.name));
  const streamWeights: TrainOptions['streamWeights'] = saveModel
    ? async (m, weights) => {
      if (hasWeightsToSave(m)) await saveModel(join(config.outDir, 'models', modelDirs.get(m.name)!), modelConfigs.get(m.name)!, weights);
    }
    : undefined;
  let result: JobResult;
  try {
    result = await deps.train(job.tasks, {
      ...trainOptions(config),
      checkpointDir,
      checkpointEvery: config.checkpointEvery,
      earlyStopping: config.earlyStopping,
      resume: flags.resume,
      signal: stop.signal,
      onEvent,
      streamWeights,
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    progress.stop();
    events.close();
    await watch.close();
  }

  // The table first: it needs no disk.
  deps.stdout.write(`\n${renderResultsTable(result)}\n\n${renderJobSummary(result)}\n\n`);
  const problems = events.failure ? [events.failure] : [];
  const written = await writeResults(config.outDir, result, {
    name: config.name,
    config,
    startedAt,
    finishedAt: new Date().toISOString(),
    specs: new Map(job.variants.map((v) => [v.name, v.spec])),
    saveModel: saveModel ? (dir, m) => savedOrSave(m, () => saveModel(dir, modelConfigs.get(m.name)!, m.weights)) : undefined,
    problems,
  });

  const report = watch.writeReport(info);
  const files = [written.resultsJson, written.resultsCsv, events.failure ? null : events.path, report ?? null].filter((p): p is string => p !== null);
  deps.stdout.write(files.length > 0 ? `wrote ${files.map(show).join(', ')}` : 'wrote no results files');
  deps.stdout.write(written.modelDirs.size > 0 ? `, weights of ${written.modelDirs.size} models in ${show(join(config.outDir, 'models'))}/\n` : '\n');
  const stopped = result.models.filter((m) => m.status === 'stopped');
  const saved = stopped.filter((m) => m.checkpoint);
  if (saved.length > 0) {
    deps.stdout.write(`stopped: ${saved.length} model${saved.length === 1 ? '' : 's'} checkpointed in ${show(checkpointDir)}; continue with: ${resumeCommand(show(configFile), flags)}\n`);
  }
  for (const m of stopped.filter((x) => !x.checkpoint)) deps.stdout.write(`stopped without a checkpoint: ${m.name} (${m.reason ?? 'no reason'})\n`);
  const writeFailures = [...problems, ...written.failures.map(describeFailure)];
  if (writeFailures.length > 0) {
    const kept = written.resultsJson ? `the results are in ${show(written.resultsJson)}` : 'no results file could be written: the table above is the only record';
    deps.stderr.write(`\nnot everything could be written (${kept}):\n${writeFailures.map((f) => `  - ${f}\n`).join('')}`);
  }
  return { config, job, result, outDir: config.outDir, stoppedBy, writeFailures };
}

/**
 * The exit status of `hydra train`: 130 / 143 when stopped by a signal; 1 when no model finished, or when results,
 * weights or events could not all be written (listed by runTrain); 0 otherwise — a grid where some models diverge is
 * a normal result.
 */
export function exitStatus(outcome: TrainRunOutcome): number {
  if (outcome.stoppedBy) return outcome.stoppedBy === 'SIGINT' ? 130 : 143;
  if (outcome.result && !outcome.result.models.some((m) => m.status === 'done')) return 1;
  return outcome.writeFailures.length > 0 ? 1 : 0;
}

/** The command that continues a stopped job: the same config and overrides, plus --resume. */
export function resumeCommand(configFile: string, flags: TrainRunFlags): string {
  const quote = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const parts = ['hydra', 'train', quote(configFile)];
  const add = (flag: string, v: string | number | undefined) => v !== undefined && parts.push(flag, quote(String(v)));
  add('--devices', flags.devices);
  add('--device-memory', flags.deviceMemory);
  add('--host-memory', flags.hostMemory);
  add('--policy', flags.policy);
  add('--activations', flags.activations);
  add('--out', flags.out);
  add('--steps', flags.steps);
  parts.push('--resume');
  return parts.join(' ');
}

/** Config errors found after loading (grid combinations, data sizes) still name the file they are about. */
function blameFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw err.withSource(file);
    throw err;
  }
}

/** 'grid-tiny: 6 models (lr × batch_size), 20 steps each, devices cpu:2x1 with 64.0 MiB each, policy sharded-lrtf'. */
export function describeJob(c: TrainConfig): string {
  const n = gridSize(c.grid) * (c.models?.length ?? 1);
  const axes = [...(c.models && c.models.length > 1 ? ['model'] : []), ...c.grid.filter((a) => a.values.length > 1).map((a) => hparamSpec(a.key).key)];
  const grid = axes.length > 0 ? ` (${axes.join(' × ')})` : '';
  const length = 'steps' in c.length ? `${c.length.steps} steps` : `${c.length.epochs} epoch${c.length.epochs === 1 ? '' : 's'}`;
  const host = c.hostMemory !== undefined ? `, host memory ${formatBytes(c.hostMemory)}` : '';
  return `${c.name}: ${n} model${n === 1 ? '' : 's'}${grid}, ${length} each, devices ${c.devices} with ${formatBytes(c.deviceMemory)} each${host}, policy ${c.policy}`;
}

/** What the config fixes of train()'s options (the run adds checkpoints, resume, the stop signal and events). */
function trainOptions(config: TrainConfig): TrainOptions {
  return {
    devices: config.devices,
    deviceMemory: config.deviceMemory,
    hostMemory: config.hostMemory,
    // The disk tier's scratch goes under the output directory unless spill_dir says where.
    spillDir: config.spillDir ?? join(config.outDir, 'spill'),
    createSpillDir: config.spillDir === undefined,
    policy: config.policy,
    policySeed: config.policySeed,
    planDir: config.planDir,
    prefetch: config.prefetch,
    activations: config.activations,
  };
}

/** Weights streamed during the job are already saved (or failed: the failure is reported as writeResults' own). */
async function savedOrSave(m: ModelResult, save: () => Promise<void>): Promise<void> {
  if (!m.weightsStreamed) return save();
  if (m.weightsError) throw new Error(m.weightsError);
}

/** What the library says during a job (its logs, a model's reason), shown in the config's words. */
function inConfigWordsEvent(e: HydraEvent): HydraEvent {
  if (e.type === 'log') return { ...e, message: inConfigWords(e.message) };
  if (e.type === 'model-end' && e.reason) return { ...e, reason: inConfigWords(e.reason) };
  return e;
}
