/**
 * Before a model trains: it is planned (a cached plan, or a pilot pass and the partitioner — a layer that cannot fit
 * stops the job here), its state is placed across the host and disk tiers together with every other model of the
 * job (the preflight refuses a job that cannot fit, before anything trains), then allocated and loaded from its
 * checkpoint (resume), its given weights or its initialisation — a fresh model in RAM shard by shard, so that it
 * trains while the rest of it, and the job's other models, are still being set up. Set-up of a large model takes a
 * while, so each stage is logged with the time since train() started.
 */
import { existsSync, renameSync } from 'node:fs';
import { createBackend } from '../../backend/index.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import { CONSTANT_LR } from '../../optim/schedule.js';
import { fsSafeNames } from '../../report/names.js';
import type { HydraEvent, PartitionPlan, PolicyName, TrainOptions, TrainTask } from '../api.js';
import type { ArchSpec } from '../../nn/family.js';
import { planFor } from '../plan/plan-cache.js';
import { backendKey, type DeviceSpec } from '../run/device-spec.js';
import { buildRuntime, type ModelRuntime } from '../run/model-runtime.js';
import { allocateHostState, viewsOf } from '../tier/host-state.js';
import type { HostTier } from '../tier/host-tier.js';
import type { JobTiers } from '../tier/job-tiers.js';
import { initModelParams } from '../tier/model-state-io.js';
import { describePlacement, type JobPlacement, type ModelPlacement } from '../tier/placement.js';
import { describeStop } from '../scheduler/early-stopping/index.js';
import { checkpointPath, loadModelSnapshotOrPrevious, restoreModel } from './job-checkpoint.js';
import type { JobEarlyStopping } from './job-early-stopping.js';
import { ModelJob, totalSteps } from './model-job.js';
import { initByShard } from './shard-init.js';
import { evalPoints, loadWeights, type TaskModel } from './train-setup.js';

/** What setting up a model needs of the job (parsed once by train()). */
export interface JobContext {
  dev: DeviceSpec;
  budget: number;
  /** The host tier (tiers.host). */
  tier: HostTier;
  tiers: JobTiers;
  options: TrainOptions;
  policy: PolicyName;
  /** Checkpoint every this many steps (0: only when stopped or finished). */
  checkpointEvery: number;
  stopping: JobEarlyStopping | null;
  emit: (e: HydraEvent) => void;
  now: () => number;
}

/** Models planned and placed together, each waiting for its state (loadModel). */
export interface PlannedJob {
  models: PlannedModel[];
  placement: JobPlacement;
}

/**
 * Plan the job's models in order, then place all their state at once: the placement weighs every model, and the
 * preflight sees the whole job before anything trains.
 */
export async function planJob(tasks: TrainTask[], taskModels: TaskModel[], c: JobContext, firstIndex = 0, safeNames = fsSafeNames(tasks.map((t) => t.name))): Promise<PlannedJob> {
  const models: PlannedModel[] = [];
  for (const [k, task] of tasks.entries()) models.push(await planModel(firstIndex + k, task, safeNames.get(task.name)!, taskModels[k], c));
  const placement = c.tiers.place(models.map(({ task, rt, plan }) => ({ name: task.name, rt, plan })));
  if (placement.diskBytes > 0) for (const line of describePlacement(placement)) c.emit({ type: 'log', t: c.now(), message: line });
  return { models, placement };
}

/**
 * A resumed job: every model read back before anything trains, and the rung results its checkpoints kept replayed —
 * every earlier early-stopping decision, and who waits where.
 */
export async function loadResumed({ models, placement }: PlannedJob, c: JobContext): Promise<ModelJob[]> {
  const jobs: ModelJob[] = [];
  for (const [i, p] of models.entries()) jobs.push(await loadModel(p, placement, placement.models[i], c));
  const resumed = jobs.filter((j) => j.resumed);
  if (c.stopping && resumed.length > 0) replayRungs(jobs, c.stopping, c.now());
  if (resumed.length === 0) {
    throw new RangeError(`resume: no model of this job has a checkpoint in ${c.options.checkpointDir} (resuming looks there for <model name>.ckpt; was the job run with another output directory?)`);
  }
  return jobs;
}

/** A planned model, waiting for the placement of its state. */
export interface PlannedModel {
  index: number;
  task: TrainTask;
  safeName: string;
  arch: ArchSpec;
  plan: PartitionPlan;
  recipe: TrainRecipe;
  rt: ModelRuntime;
}

/** Plan a model (a cached plan, or a pilot pass and the partitioner). */
export async function planModel(index: number, task: TrainTask, safeName: string, { arch, model }: TaskModel, c: Pick<JobContext, 'options' | 'emit' | 'now' | 'budget' | 'dev'>): Promise<PlannedModel> {
  const { options, emit, now } = c;
  const log = (message: string) => emit({ type: 'log', t: now(), message });
  const setup = (what: string) => log(`[${now().toFixed(1).padStart(7)}s] ${task.name}: ${what}`);
  const { B, T } = task.train;
  const steps = totalSteps(task);
  const recipe: TrainRecipe = { optimizer: task.optimizer, schedule: task.schedule ?? CONSTANT_LR, clipNorm: task.clipNorm ?? 0, totalSteps: steps, seed: task.seed };
  const planStart = now();
  setup('planning');
  const { plan, reused } = await planFor(
    { model, recipe, B, T, budget: c.budget, backendKey: backendKey(c.dev), maxBufferBytes: Infinity, reserve: options.prefetchReserve },
    () => createBackend(c.dev.kind, { threads: c.dev.threads }),
    task.train.batch(0, 0).tokens,
    options.planDir === undefined ? '.hydra/plans' : options.planDir,
    setup,
  );
  setup(`${reused ? 'plan read from the plan cache' : 'planned'} in ${(now() - planStart).toFixed(1)} s`);
  emit({ type: 'plan', model: task.name, plan, reused });
  const rt = buildRuntime(model, plan.shards, recipe, B, T);
  return { index, task, safeName, arch, plan, recipe, rt };
}

/**
 * Give a planned model its state where the placement put it, and its weights (initial or from its checkpoint). A
 * fresh model in RAM resolves once its initialisation has started: its tasks wait for their own shards (ModelJob).
 */
export async function loadModel({ index, task, safeName, arch, plan, recipe, rt }: PlannedModel, jp: JobPlacement, mp: ModelPlacement, c: JobContext): Promise<ModelJob> {
  const { options, now } = c;
  const log = (message: string) => c.emit({ type: 'log', t: now(), message });
  const setup = (what: string) => log(`[${now().toFixed(1).padStart(7)}s] ${task.name}: ${what}`);
  const { B, T } = task.train;
  const steps = totalSteps(task);
  const before = c.tier.stats().inUse;
  const buffers = allocateHostState(rt, c.tier, task.name, mp, c.tiers.staging(jp, mp));
  c.emit({ type: 'host-alloc', t: now(), model: task.name, bytes: c.tier.stats().inUse - before, inUse: c.tier.stats().inUse });
  const views = viewsOf(buffers, rt);
  const disk = await c.tiers.attach(rt, jp, mp, buffers, views);
  const checkpoint = options.checkpointDir ? checkpointPath(options.checkpointDir, safeName) : undefined;
  const resumed = checkpoint && options.resume
    ? await loadModelSnapshotOrPrevious(checkpoint, task.name, arch, recipe, B, T, task.train.stepsPerEpoch, log, disk !== undefined)
    : null;
  if (checkpoint && !resumed && existsSync(checkpoint)) {
    // A fresh run: an earlier run's checkpoint would be resumed later as if it were this run's. Keep it aside.
    renameSync(checkpoint, `${checkpoint}.prev`);
    log(`${task.name}: an earlier run's checkpoint was moved to ${checkpoint}.prev (this run starts afresh)`);
  }
  if (checkpoint && options.resume && !resumed) log(`${task.name}: no checkpoint at ${checkpoint}; starting from step 0`);
  let shardsInitialised: Promise<void>[] | undefined;
  if (resumed) await restoreModel(rt, views, disk, resumed, checkpoint!);
  else if (task.weights) await loadWeights(rt, views, disk, task.weights, task.name);
  else {
    const initStart = now();
    const M = `${(rt.params.reduce((a, p) => a + p.n, 0) / 1e6).toFixed(1)} M parameters`;
    const initialised = (engine: 'native' | 'js') => setup(`initialised in ${(now() - initStart).toFixed(1)} s (${engine === 'native' ? 'native, every core' : 'JavaScript: the cpu addon is missing'})`);
    if (disk) {
      setup(`initialising ${M} (those placed on disk written to scratch)`);
      initialised(await initModelParams(rt, views, disk, task.seed));
    } else {
      setup(`initialising ${M}, shard by shard (it trains as soon as shard 0 is in place)`);
      shardsInitialised = initByShard(rt, views, task.seed, initialised);
    }
  }
  const rungs = c.stopping?.add(index, steps) ?? [];
  if (resumed) log(`${task.name}: resumed from ${checkpoint} at step ${resumed.step}${resumed.progress.finished ? ' (finished)' : ''}`);
  return new ModelJob({
    index, task, arch, rt, buffers, views, disk, placement: mp, plan, checkpoint, now: now(),
    evalAfter: new Set([...evalPoints(task, steps), ...rungs.map((r) => r - 1)]),
    horizon: rungs[0] ?? steps,
    resumed: resumed ? { step: resumed.step, progress: resumed.progress } : undefined,
    shardsInitialised,
  });
}

/** Replay the rung results the resumed models' checkpoints recorded, in model order, and apply their decisions. */
function replayRungs(jobs: ModelJob[], stopping: JobEarlyStopping, now: number): void {
  const recorded = jobs.flatMap((j) =>
    j.result.evals
      .filter((e) => e.step !== undefined && e.step <= j.startStep && stopping.isRung(j.index, e.step))
      .map((e) => ({ index: j.index, step: e.step!, loss: e.loss, passed: e.step! < j.startStep })),
  );
  // A resumed model is judged next at its first rung not yet passed (at a rung it stopped on, it waits there).
  for (const j of jobs) if (j.resumed) j.horizon = stopping.horizonFrom(j.index, j.startStep, j.totalSteps);
  const decisions = stopping.replay(recorded);
  // Models resumed as finished (stopped early or done) take part in no decision again: their results are recorded
  // above, for the models judged after them; nobody waits for them any more.
  for (const j of jobs) if (j.ended) decisions.push(...stopping.ended(j.index));
  for (const d of decisions) {
    const j = jobs[d.model];
    if (d.action === 'continue') {
      if (!j.ended) j.horizon = d.horizon;
    } else if (!j.result.stoppedEarly) {
      // (A model resumed as finished has its stop recorded in its checkpoint; older checkpoints did not record it.)
      j.result.status = 'stopped-early';
      j.result.stoppedEarly = d.reason;
      j.result.reason = describeStop(d.reason!);
      if (!j.ended) j.result.wallSeconds = now;
    }
  }
}
