/**
 * `train(tasks, options)`: the Hydra orchestrator. Plans every model (pilot pass + partitioner, or a cached plan),
 * puts each model's state in the host tier, starts the devices, and lets the scheduler hand shard tasks of all models
 * to whichever device frees up. Models fail alone: a diverged or failing model is marked and dropped, the rest go on.
 * With a checkpoint directory, models are checkpointed at minibatch boundaries (every `checkpointEvery` steps, and
 * when the job is stopped through `signal`), and `resume` continues each model from its checkpoint.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import type { ArchSpec } from '../../nn/family.js';
import { initParamsInto } from '../../nn/init.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import { CONSTANT_LR } from '../../optim/schedule.js';
import { createBackend } from '../../backend/index.js';
import { fsSafeNames } from '../../report/names.js';
import type { HydraEvent, JobResult, ModelResult, PartitionPlan, TrainOptions, TrainTask } from '../api.js';
import { backendKey, parseDevices } from '../run/device-spec.js';
import { startDevices, type DeviceHandle } from '../run/device-pool.js';
import { allocateHostState, releaseHostState, viewsOf, type HostStateBuffers, type HostViews } from '../tier/host-state.js';
import { HostTier } from '../tier/host-tier.js';
import { buildRuntime, type ModelRuntime } from '../run/model-runtime.js';
import { planFor } from '../plan/plan-cache.js';
import { checkMemoryBudgets, modelBytes } from '../plan/memory-check.js';
import { stateNames } from '../../optim/optimizer.js';
import { parseBytes } from '../units.js';
import { CheckpointWriter, checkpointPath, loadModelSnapshotOrPrevious, previousCheckpointPath, restoreModel, snapshotModel } from './job-checkpoint.js';
import { createJobScheduler, schedSpec, type SchedModelInput, type SchedTask } from './job-scheduler.js';
import type { JobControl } from './job-control.js';
import { prefetchIsSafe, stepsParams } from '../run/prefetch-safety.js';
import { checkTasks, evalPoints, loadWeights, usableDevices, type TaskModel } from './train-setup.js';
import { JobEarlyStopping } from './job-early-stopping.js';
import { describeStop, type RungDecision } from '../scheduler/early-stopping/index.js';

interface ModelJob {
  index: number;
  task: TrainTask;
  arch: ArchSpec;
  rt: ModelRuntime;
  views: HostViews;
  buffers: HostStateBuffers;
  plan: PartitionPlan;
  totalSteps: number;
  evalAfter: Set<number>;
  result: ModelResult;
  evalSum: number;
  evalCount: number;
  /** The task of this model currently running, if any. */
  inFlight: SchedTask | null;
  /**
   * Per shard: how many completed tasks stepped any of its parameters. A prefetch is taken at one version and used
   * only at the same version, so a step that lands between the copy and the task can never be missed.
   */
  paramsVersion: number[];
  /** Steps already taken when this job started (resumed from a checkpoint), added to the scheduler's minibatch. */
  startStep: number;
  /** Its checkpoint file (when the job checkpoints). */
  checkpoint?: string;
  /** The last step a checkpoint was taken at (-1: none in this job). */
  checkpointedAt: number;
  /** Early stopping: the step count it may train to before a decision (global steps). */
  horizon: number;
  /** Its host-tier state was released (stopped early or by name): its weights are already in the result. */
  released: boolean;
  /** Stop it by name at its next minibatch boundary. */
  stopRequested: boolean;
}

/** What the scheduler needs of a model (its steps counted from where this job starts it). */
function schedInput(j: ModelJob): SchedModelInput {
  return {
    id: j.task.name,
    plan: j.plan,
    minibatches: j.totalSteps - j.startStep,
    stepsPerEpoch: j.task.train.stepsPerEpoch,
    evalAfter: [...j.evalAfter].filter((p) => p >= j.startStep).map((p) => p - j.startStep).sort((a, b) => a - b),
    evalBatches: j.task.eval?.stepsPerEpoch ?? 0,
    horizon: Math.min(j.horizon, j.totalSteps) - j.startStep,
  };
}

/** `control`: requests of a running job's handle (job-control.ts: add a model, stop one by name). */
export async function train(tasks: TrainTask[], options: TrainOptions, control?: JobControl): Promise<JobResult> {
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const emit = (e: HydraEvent) => options.onEvent?.(e);
  const dev = await usableDevices(parseDevices(options.devices), (message) => emit({ type: 'log', t: now(), message }));
  const budget = parseBytes(options.deviceMemory, 'deviceMemory');
  const tier = new HostTier(options.hostMemory !== undefined ? parseBytes(options.hostMemory, 'hostMemory') : Infinity);
  const policy = options.policy ?? 'sharded-lrtf';
  const taskModels = await checkTasks(tasks);
  // Bytes known from shapes alone, against the limits, before any pilot pass runs.
  checkMemoryBudgets(
    tasks.map((t, i) => modelBytes(t.name, taskModels[i].model, t.train.B, t.train.T, stateNames(t.optimizer).length)),
    { device: budget, host: tier.budget },
  );
  const checkpointEvery = options.checkpointEvery ?? 0;
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 0)) throw new RangeError(`checkpointEvery: expected a whole number of steps ≥ 0, got ${checkpointEvery}`);
  if ((options.resume || checkpointEvery > 0) && !options.checkpointDir) throw new RangeError(`checkpointDir: required with ${options.resume ? 'resume' : 'checkpointEvery'}`);
  const safeNames = fsSafeNames(tasks.map((t) => t.name));
  let resumedModels = 0;
  const stopping = JobEarlyStopping.create(options.earlyStopping, tasks);

  /** Plan a model, give it its host-tier state and its weights (initial or from its checkpoint). */
  const setUpModel = async (index: number, task: TrainTask, safeName: string, { arch, model }: TaskModel): Promise<ModelJob> => {
    const { B, T } = task.train;
    const totalSteps = task.steps ?? (task.epochs ?? 1) * task.train.stepsPerEpoch;
    const recipe: TrainRecipe = { optimizer: task.optimizer, schedule: task.schedule ?? CONSTANT_LR, clipNorm: task.clipNorm ?? 0, totalSteps, seed: task.seed };
    const { plan, reused } = await planFor(
      { model, recipe, B, T, budget, backendKey: backendKey(dev), maxBufferBytes: Infinity, reserve: options.prefetchReserve },
      () => createBackend(dev.kind, { threads: dev.threads }),
      task.train.batch(0, 0).tokens,
      options.planDir === undefined ? '.hydra/plans' : options.planDir,
    );
    emit({ type: 'plan', model: task.name, plan, reused });
    const rt = buildRuntime(model, plan.shards, recipe, B, T);
    const buffers = allocateHostState(rt, tier, task.name);
    const views = viewsOf(buffers);
    const checkpoint = options.checkpointDir ? checkpointPath(options.checkpointDir, safeName) : undefined;
    const resumed = checkpoint && options.resume
      ? await loadModelSnapshotOrPrevious(checkpoint, task.name, arch, recipe, B, T, task.train.stepsPerEpoch, (message) => emit({ type: 'log', t: now(), message }))
      : null;
    if (checkpoint && !resumed && existsSync(checkpoint)) {
      // A fresh run: an earlier run's checkpoint would be resumed later as if it were this run's. Keep it aside.
      renameSync(checkpoint, `${checkpoint}.prev`);
      emit({ type: 'log', t: now(), message: `${task.name}: an earlier run's checkpoint was moved to ${checkpoint}.prev (this run starts afresh)` });
    }
    if (checkpoint && options.resume && !resumed) emit({ type: 'log', t: now(), message: `${task.name}: no checkpoint at ${checkpoint}; starting from step 0` });
    if (resumed) {
      restoreModel(rt, views, resumed, checkpoint!);
      resumedModels++;
    } else {
      if (task.weights) loadWeights(rt, views, task.weights, task.name);
      else await initParamsInto(rt.params.map((p) => p.spec), task.seed, (spec) => views.param(spec.name));
    }
    const startStep = resumed?.step ?? 0;
    const rungs = stopping?.add(index, totalSteps) ?? [];
    if (resumed) emit({ type: 'log', t: now(), message: `${task.name}: resumed from ${checkpoint} at step ${startStep}${resumed.progress.finished ? ' (finished)' : ''}` });
    return {
      index,
      task,
      arch,
      rt,
      views,
      buffers,
      plan,
      totalSteps,
      evalAfter: new Set([...evalPoints(task, totalSteps), ...rungs.map((r) => r - 1)]),
      evalSum: 0,
      evalCount: 0,
      inFlight: null,
      paramsVersion: plan.shards.map(() => 0),
      startStep,
      checkpoint,
      checkpointedAt: resumed ? startStep : -1,
      horizon: rungs[0] ?? totalSteps,
      released: false,
      stopRequested: false,
      result: {
        name: task.name, hparams: task.hparams ?? {}, status: 'done', losses: resumed?.progress.losses ?? [], evals: resumed?.progress.evals ?? [],
        steps: startStep, wallSeconds: resumed?.progress.finished ? now() : 0, deviceSeconds: 0, plan, weights: new Map(),
      },
    };
  };

  // ---- plan every model before anything trains: a layer that cannot fit stops the job here ----
  const jobs: ModelJob[] = [];
  for (const [index, task] of tasks.entries()) jobs.push(await setUpModel(index, task, safeNames.get(task.name)!, taskModels[index]));
  for (const t of tasks) control?.names.add(t.name);

  // A resumed job replays the rung results its checkpoints kept: every earlier decision, and who waits where.
  if (stopping && resumedModels > 0) {
    const recorded = jobs.flatMap((j) => j.result.evals.filter((e) => e.step !== undefined && e.step <= j.startStep && stopping.isRung(j.index, e.step)).map((e) => ({ index: j.index, step: e.step!, loss: e.loss })));
    for (const d of stopping.replay(recorded)) {
      const j = jobs[d.model];
      if (d.action === 'continue') j.horizon = d.horizon;
      else {
        j.result.status = 'stopped-early';
        j.result.stoppedEarly = d.reason;
        j.result.reason = describeStop(d.reason!);
        j.result.wallSeconds = now();
      }
    }
  }

  if (options.resume && resumedModels === 0) {
    throw new RangeError(`resume: no model of this job has a checkpoint in ${options.checkpointDir} (resuming looks there for <model name>.ckpt; was the job run with another output directory?)`);
  }
  // Stopped while planning: nothing has trained, nothing to checkpoint.
  if (options.signal?.aborted) {
    for (const j of jobs) {
      if (j.result.wallSeconds > 0) continue;
      j.result.status = 'stopped';
      j.result.reason = `stopped before step ${j.startStep} (while the job was being planned)`;
      j.result.wallSeconds = now();
    }
  }

  // ---- devices, models registered on each (their state is shared memory, nothing is copied) ----
  const devices = await startDevices(dev, budget);
  const busy = devices.map(() => 0);
  const highWater = devices.map(() => 0);
  let bytesMoved = 0, overlapSeconds = 0;
  try {
    const register = (j: ModelJob) => {
      for (const d of devices) d.send({ type: 'register', modelId: j.task.name, arch: j.arch, shards: j.plan.shards, recipe: j.rt.recipe, B: j.rt.B, T: j.rt.T, buffers: j.buffers });
    };
    for (const j of jobs) register(j);
    // Models resumed as finished have nothing left to run.
    const active = jobs.filter((j) => j.result.wallSeconds === 0);
    const checkpoints = new CheckpointWriter(emit, now);
    /**
     * Checkpoint a model at a boundary, written in the background. A model that trains on is copied now
     * (synchronously); a stopped or finished one is written straight from the host tier.
     */
    const checkpointModel = (j: ModelJob, step: number, finished: boolean, final = finished): Promise<void> | undefined => {
      if (!j.checkpoint) return undefined;
      j.checkpointedAt = step;
      const progress = {
        name: j.task.name, stepsPerEpoch: j.task.train.stepsPerEpoch, B: j.rt.B, T: j.rt.T, losses: j.result.losses, evals: j.result.evals, finished,
      };
      return checkpoints.write(j.task.name, j.checkpoint, snapshotModel(j.rt, j.views, step, progress, !final), j.arch, j.rt.recipe, (written) => (j.result.checkpoint = written));
    };

    if (active.length > 0) {
      const sched = createJobScheduler(
        active.map(schedInput),
        devices.length,
        policy,
        options.policySeed ?? 0,
      );
      const byName = new Map(jobs.map((j) => [j.task.name, j]));
      const running = new Map<number, Promise<void>>();

      const finishModel = (j: ModelJob, status: ModelResult['status'], reason?: string) => {
        j.result.status = status;
        if (reason) j.result.reason = reason;
        j.result.wallSeconds = now();
        emit({ type: 'model-end', t: now(), model: j.task.name, status, reason });
        // Models waiting at a rung for this one are judged without it. A job stopped by its signal does not count:
        // its resumed run must take the decisions the uninterrupted job would have.
        if (stopping && status !== 'stopped' && status !== 'stopped-early') applyDecisions(stopping.ended(j.index));
      };

      /** Early-stopping decisions: a promoted model trains on to its next horizon; a stopped one ends here. */
      const applyDecisions = (decisions: RungDecision[]) => {
        for (const d of decisions) {
          const j = jobs[d.model];
          emit({ type: 'rung', t: now(), model: j.task.name, step: d.step, action: d.action, horizon: d.horizon, reason: d.reason });
          if (d.action === 'continue') {
            j.horizon = d.horizon;
            sched.extend(j.task.name, d.horizon - j.startStep, now());
            continue;
          }
          sched.stop(j.task.name, 'stopped early', now());
          j.result.stoppedEarly = d.reason;
          finishModel(j, 'stopped-early', describeStop(d.reason!));
          // Its curve stays in the result; its state is checkpointed (a copy: the host tier is released next).
          if (j.checkpoint) checkpointModel(j, j.result.steps, true, false);
          releaseModel(j);
        }
      };

      /** Free a model's host-tier state: its final weights go to the result first; the devices forget the model. */
      const releaseModel = (j: ModelJob) => {
        for (const p of j.rt.params) j.result.weights.set(p.spec.name, { shape: [...p.spec.shape], data: Float32Array.from(j.views.param(p.spec.name)) });
        for (const d of devices) d.send({ type: 'unregister', modelId: j.task.name });
        const before = tier.stats().inUse;
        releaseHostState(j.buffers, tier);
        j.released = true;
        emit({ type: 'host-release', t: now(), model: j.task.name, bytes: before - tier.stats().inUse, inUse: tier.stats().inUse });
      };

      const dispatch = (d: DeviceHandle, st: SchedTask) => {
        const j = byName.get(st.modelId)!;
        let checkpointWritten: Promise<void> | undefined;
        // The first task of a minibatch: the model is at a boundary (nothing in flight, every parameter stepped).
        if ((st.kind === 'F' || st.kind === 'FL') && st.shard === 0) {
          const step = j.startStep + st.minibatch;
          const segmentEnd = j.task.stopAtStep !== undefined && step >= j.task.stopAtStep;
          if (options.signal?.aborted || segmentEnd) {
            checkpointModel(j, step, false, true);
            sched.complete(st, 0, now());
            sched.fail(j.task.name, 'stopped');
            finishModel(j, 'stopped', segmentEnd ? `stopped at step ${step} (stopAtStep)` : `stopped before step ${step}`);
            return;
          }
          if (j.stopRequested) {
            sched.complete(st, 0, now());
            stopByName(j);
            return;
          }
          // The step after a periodic checkpoint starts once the checkpoint is on disk (its device waits for the write),
          // so a crash at any moment loses at most checkpointEvery steps of the model.
          if (checkpointEvery > 0 && step > j.checkpointedAt && step % checkpointEvery === 0 && step > 0) checkpointWritten = checkpointModel(j, step, false);
        }
        try {
          prepareInputs(j, st);
        } catch (e) {
          // A model whose data fails is dropped alone; the device is offered other work at once.
          sched.complete(st, 0, now());
          sched.fail(j.task.name, 'data error');
          finishModel(j, 'failed', `reading the batch for step ${j.startStep + st.minibatch} failed: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        j.inFlight = st;
        const hint = sched.peek(d.id);
        const hintJob = hint ? byName.get(hint.modelId) : undefined;
        // The running task's plan left room for its own model's largest shard parameters (its reserve), not for any
        // model's: another model's shard is prefetched beside it only if it fits in that reserve.
        const prefetch =
          hint && hintJob && options.prefetch !== false && prefetchIsSafe(hintJob.rt, hintJob.inFlight, hint) &&
          hintJob.plan.shards[hint.shard].paramBytes <= j.plan.reserve
            ? { modelId: hint.modelId, shard: hint.shard, paramsVersion: hintJob.paramsVersion[hint.shard] }
            : null;
        const step = st.kind === 'E' ? j.result.steps : j.startStep + st.minibatch;
        emit({ type: 'task-start', t: now(), device: d.id, model: j.task.name, kind: st.kind, shard: st.shard, step });
        const runTask = () => d.run(j.task.name, { kind: st.kind, shard: st.shard, step }, j.paramsVersion[st.shard], prefetch);
        const p = (checkpointWritten ? checkpointWritten.then(runTask) : runTask())
          .then((rep) => {
            j.inFlight = null;
            bumpParamsVersions(j, st);
            busy[d.id] += rep.seconds;
            highWater[d.id] = Math.max(highWater[d.id], rep.highWater);
            bytesMoved += rep.outcome.bytesIn + rep.outcome.bytesOut;
            overlapSeconds += rep.overlapSeconds;
            j.result.deviceSeconds += rep.seconds;
            emit({
              type: 'task-end', t: now(), device: d.id, model: j.task.name, kind: st.kind, shard: st.shard, step,
              computeSeconds: rep.seconds, bytesIn: rep.outcome.bytesIn, bytesOut: rep.outcome.bytesOut,
              prefetchedBytes: rep.outcome.prefetchedBytes, overlapSeconds: rep.overlapSeconds,
            });
            sched.complete(st, rep.seconds, now());
            afterTask(j, st, rep.outcome);
          })
          .catch((e: unknown) => {
            j.inFlight = null;
            sched.complete(st, 0, now());
            sched.fail(j.task.name, 'task failed');
            finishModel(j, 'failed', `task ${st.kind}${st.shard} of step ${step} failed on device ${d.id}: ${e instanceof Error ? e.message : String(e)}`);
          })
          .finally(() => running.delete(d.id));
        running.set(d.id, p);
      };

      const afterTask = (j: ModelJob, st: SchedTask, o: { loss?: number; lossSum?: number; count?: number; gradNorm?: number; lr?: number }) => {
        const n = j.plan.shards.length;
        const step = j.startStep + st.minibatch;
        if (st.kind === 'FL') {
          j.result.losses.push(o.loss!);
          if (!Number.isFinite(o.loss!)) {
            sched.fail(j.task.name, 'diverged');
            finishModel(j, 'diverged', `loss became ${o.loss} at step ${step}`);
            return;
          }
        }
        if ((st.kind === 'B' && st.shard === 0) || (st.kind === 'FL' && n === 1)) {
          j.result.steps = step + 1;
          const epoch = Math.floor(step / j.task.train.stepsPerEpoch);
          emit({ type: 'step', t: now(), model: j.task.name, step, epoch, loss: j.result.losses[step], gradNorm: o.gradNorm ?? NaN, lr: o.lr ?? NaN });
          if (!Number.isFinite(o.gradNorm ?? 0)) {
            sched.fail(j.task.name, 'diverged');
            finishModel(j, 'diverged', `gradient norm became ${o.gradNorm} at step ${step}`);
            return;
          }
        }
        if (st.kind === 'E' && st.shard === n - 1) {
          j.evalSum += o.lossSum ?? 0;
          j.evalCount += o.count ?? 0;
          if (st.evalBatch === (j.task.eval?.stepsPerEpoch ?? 0) - 1) {
            const loss = j.evalSum / j.evalCount;
            const epoch = Math.max(0, Math.ceil(j.result.steps / j.task.train.stepsPerEpoch) - 1);
            j.result.evals.push({ epoch, step: j.result.steps, loss, perplexity: Math.exp(loss) });
            emit({ type: 'eval', t: now(), model: j.task.name, epoch, loss, perplexity: Math.exp(loss), tokens: j.evalCount });
            j.evalSum = 0;
            j.evalCount = 0;
            if (stopping?.isRung(j.index, j.result.steps)) applyDecisions(stopping.atRung(j.index, j.result.steps, loss));
          }
        }
        if (sched.modelDone(j.task.name) && j.result.status === 'done' && j.result.wallSeconds === 0) {
          finishModel(j, 'done');
          // A checkpointed model ends with a finished checkpoint, so that resuming never retrains it.
          if (checkpointEvery > 0 || j.checkpointedAt >= 0) checkpointModel(j, j.result.steps, true);
        }
      };

      /** A model stopped by name, at a boundary: checkpointed, its state released; rungs waiting for it go on. */
      const stopByName = (j: ModelJob) => {
        if (j.checkpoint) checkpointModel(j, j.result.steps, false);
        sched.stop(j.task.name, 'stopped by name', now());
        finishModel(j, 'stopped', `stopped by name at step ${j.result.steps}`);
        releaseModel(j);
        if (stopping) applyDecisions(stopping.ended(j.index));
      };

      /** Requests of the job's handle: new models join (planned while the devices work on), named ones stop. */
      const serveControl = async (c: JobControl) => {
        for (const name of c.takeStops()) {
          const j = byName.get(name)!;
          if (j.result.wallSeconds > 0 || j.stopRequested) continue; // already over, or already asked
          j.stopRequested = true;
          if (sched.modelProgress(name).status === 'held') stopByName(j); // at a boundary now
        }
        for (const a of c.takeAdds()) {
          try {
            if (byName.has(a.task?.name)) throw new RangeError(`add: a model named '${a.task.name}' is already in this job`);
            const [taskModel] = await checkTasks([a.task]);
            if (stopping) JobEarlyStopping.check(a.task);
            const j = await setUpModel(jobs.length, a.task, fsSafeNames([...jobs.map((x) => x.task.name), a.task.name]).get(a.task.name)!, taskModel);
            jobs.push(j);
            byName.set(j.task.name, j);
            c.names.add(j.task.name);
            register(j);
            if (j.result.wallSeconds === 0) {
              active.push(j);
              sched.add(schedSpec(schedInput(j)), now());
            }
            emit({ type: 'model-added', t: now(), model: j.task.name });
            a.resolve();
          } catch (e) {
            a.reject(e);
          }
        }
      };

      const stopHeldModels = (): boolean => {
        const held = active.filter((j) => sched.modelProgress(j.task.name).status === 'held');
        for (const j of held) {
          checkpointModel(j, j.result.steps, false, true);
          sched.stop(j.task.name, 'stopped', now());
          finishModel(j, 'stopped', `stopped at step ${j.result.steps} (waiting at an early-stopping rung)`);
        }
        return held.length > 0;
      };

      // ---- the event loop: offer work to every idle device, then wait for any device to finish ----
      while (!sched.isDone() || running.size > 0) {
        for (const d of devices) {
          // A task may end without running (its model stopped or its batch failed): then offer the device another.
          while (!running.has(d.id)) {
            const st = sched.assign(d.id, now());
            if (!st) break;
            dispatch(d, st);
          }
        }
        if (running.size === 0) {
          if (sched.isDone()) break;
          // Stopped while models wait at a rung: they are at a boundary; checkpoint them as they are.
          if (options.signal?.aborted && stopHeldModels()) continue;
          throw new Error('scheduler stalled: no device has work but models remain (scheduler bug)');
        }
        if (control?.pending) await serveControl(control);
        else await Promise.race(control ? [...running.values(), control.wakeup()] : running.values());
      }
    }
    // A stopped job leaves every finished model checkpointed too, so that the resumed job only trains what is left.
    if (options.signal?.aborted) for (const j of active) if (j.result.status === 'done' && j.checkpointedAt < j.result.steps) checkpointModel(j, j.result.steps, true);
    await checkpoints.flush();
    // Say in each stopped model's result whether its checkpoint is really on disk.
    for (const j of jobs) {
      if (j.result.status !== 'stopped' || !j.checkpoint || j.checkpointedAt < 0) continue;
      const error = checkpoints.error(j.task.name);
      j.result.reason += error ? `; ${error} — it cannot be resumed from this stop` : `; checkpoint ${j.checkpoint}`;
    }
  } finally {
    await Promise.all(devices.map((d) => d.stop()));
  }

  const makespan = now();
  for (const j of jobs) {
    if (!j.released) for (const p of j.rt.params) j.result.weights.set(p.spec.name, { shape: [...p.spec.shape], data: Float32Array.from(j.views.param(p.spec.name)) });
    if (j.result.wallSeconds === 0) j.result.wallSeconds = makespan;
  }
  return {
    models: jobs.map((j) => j.result),
    makespanSeconds: makespan,
    devices: devices.map((d) => ({ id: d.id, busySeconds: busy[d.id], utilisation: makespan > 0 ? busy[d.id] / makespan : 0, highWater: highWater[d.id], budget: d.budget })),
    policy,
    bytesMoved,
    overlapSeconds,
    hostTier: tier.stats(),
  };

  function prepareInputs(j: ModelJob, st: SchedTask): void {
    // The first task of a minibatch (or of an eval batch) puts its batch in the host tier; the model has nothing in
    // flight at that moment, so no device is reading the batch buffers.
    if (st.shard !== 0) return;
    const spe = j.task.train.stepsPerEpoch;
    const step = j.startStep + st.minibatch;
    const b = st.kind === 'E' ? j.task.eval!.batch(0, st.evalBatch!) : j.task.train.batch(Math.floor(step / spe), step % spe);
    j.views.tokens().set(b.tokens);
    j.views.targets().set(b.targets);
  }
}

/** The shards whose parameters a finished task stepped get a new version. */
function bumpParamsVersions(j: ModelJob, st: SchedTask): void {
  const stepped = stepsParams(j.rt, st);
  if (stepped.size === 0) return;
  j.rt.shardParams.forEach((params, k) => {
    if (params.some((p) => stepped.has(p.spec.name))) j.paramsVersion[k]++;
  });
}

