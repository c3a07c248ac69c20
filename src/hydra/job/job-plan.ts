/**
 * Before a model trains: it is planned (a cached plan, or a pilot pass and the partitioner — a layer that cannot fit
 * stops the job here), its state is placed in the host tier, and it is loaded from its checkpoint (resume), its given
 * weights or its initialisation. Set-up of a large model takes a while, so each stage is logged with the time since
 * train() started.
 */
import { existsSync, renameSync } from 'node:fs';
import { createBackend } from '../../backend/index.js';
import { initParamsInto } from '../../nn/init.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import { CONSTANT_LR } from '../../optim/schedule.js';
import { fsSafeNames } from '../../report/names.js';
import type { HydraEvent, PolicyName, TrainOptions, TrainTask } from '../api.js';
import { planFor } from '../plan/plan-cache.js';
import { backendKey, type DeviceSpec } from '../run/device-spec.js';
import { buildRuntime } from '../run/model-runtime.js';
import { allocateHostState, viewsOf } from '../tier/host-state.js';
import type { HostTier } from '../tier/host-tier.js';
import { describeStop } from '../scheduler/early-stopping/index.js';
import { checkpointPath, loadModelSnapshotOrPrevious, restoreModel } from './job-checkpoint.js';
import type { JobEarlyStopping } from './job-early-stopping.js';
import { ModelJob, totalSteps } from './model-job.js';
import { evalPoints, loadWeights, type TaskModel } from './train-setup.js';

/** What setting up a model needs of the job (parsed once by train()). */
export interface JobContext {
  dev: DeviceSpec;
  budget: number;
  tier: HostTier;
  options: TrainOptions;
  policy: PolicyName;
  /** Checkpoint every this many steps (0: only when stopped or finished). */
  checkpointEvery: number;
  stopping: JobEarlyStopping | null;
  emit: (e: HydraEvent) => void;
  now: () => number;
}

/**
 * Plan and load the job's first models, in order. A resumed job also replays the rung results its checkpoints kept:
 * every earlier early-stopping decision, and who waits where.
 */
export async function setUpModels(tasks: TrainTask[], taskModels: TaskModel[], c: JobContext): Promise<ModelJob[]> {
  const safeNames = fsSafeNames(tasks.map((t) => t.name));
  const jobs: ModelJob[] = [];
  for (const [index, task] of tasks.entries()) jobs.push(await setUpModel(index, task, safeNames.get(task.name)!, taskModels[index], c));
  const resumed = jobs.filter((j) => j.resumed);
  if (c.stopping && resumed.length > 0) replayRungs(jobs, c.stopping, c.now());
  if (c.options.resume && resumed.length === 0) {
    throw new RangeError(`resume: no model of this job has a checkpoint in ${c.options.checkpointDir} (resuming looks there for <model name>.ckpt; was the job run with another output directory?)`);
  }
  return jobs;
}

/** Plan a model, give it its host-tier state and its weights (initial or from its checkpoint). */
export async function setUpModel(index: number, task: TrainTask, safeName: string, { arch, model }: TaskModel, c: JobContext): Promise<ModelJob> {
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
  const buffers = allocateHostState(rt, c.tier, task.name);
  const views = viewsOf(buffers);
  const checkpoint = options.checkpointDir ? checkpointPath(options.checkpointDir, safeName) : undefined;
  const resumed = checkpoint && options.resume
    ? await loadModelSnapshotOrPrevious(checkpoint, task.name, arch, recipe, B, T, task.train.stepsPerEpoch, log)
    : null;
  if (checkpoint && !resumed && existsSync(checkpoint)) {
    // A fresh run: an earlier run's checkpoint would be resumed later as if it were this run's. Keep it aside.
    renameSync(checkpoint, `${checkpoint}.prev`);
    log(`${task.name}: an earlier run's checkpoint was moved to ${checkpoint}.prev (this run starts afresh)`);
  }
  if (checkpoint && options.resume && !resumed) log(`${task.name}: no checkpoint at ${checkpoint}; starting from step 0`);
  if (resumed) restoreModel(rt, views, resumed, checkpoint!);
  else if (task.weights) loadWeights(rt, views, task.weights, task.name);
  else {
    const initStart = now();
    setup(`initialising ${(rt.params.reduce((a, p) => a + p.n, 0) / 1e6).toFixed(1)} M parameters`);
    const engine = await initParamsInto(rt.params.map((p) => p.spec), task.seed, (spec) => views.param(spec.name));
    setup(`initialised in ${(now() - initStart).toFixed(1)} s (${engine === 'native' ? 'native, every core' : 'JavaScript: the cpu addon is missing'})`);
  }
  const rungs = c.stopping?.add(index, steps) ?? [];
  if (resumed) log(`${task.name}: resumed from ${checkpoint} at step ${resumed.step}${resumed.progress.finished ? ' (finished)' : ''}`);
  return new ModelJob({
    index, task, arch, rt, buffers, views, plan, checkpoint, now: now(),
    evalAfter: new Set([...evalPoints(task, steps), ...rungs.map((r) => r - 1)]),
    horizon: rungs[0] ?? steps,
    resumed: resumed ? { step: resumed.step, progress: resumed.progress } : undefined,
  });
}

/** Replay the rung results the resumed models' checkpoints recorded, in model order, and apply their decisions. */
function replayRungs(jobs: ModelJob[], stopping: JobEarlyStopping, now: number): void {
  const recorded = jobs.flatMap((j) =>
    j.result.evals.filter((e) => e.step !== undefined && e.step <= j.startStep && stopping.isRung(j.index, e.step)).map((e) => ({ index: j.index, step: e.step!, loss: e.loss })),
  );
  for (const d of stopping.replay(recorded)) {
    const j = jobs[d.model];
    if (d.action === 'continue') j.horizon = d.horizon;
    else {
      j.result.status = 'stopped-early';
      j.result.stoppedEarly = d.reason;
      j.result.reason = describeStop(d.reason!);
      j.result.wallSeconds = now;
    }
  }
}
