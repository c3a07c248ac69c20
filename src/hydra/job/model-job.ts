/**
 * One model in a job: its runtime and host-tier state, its plan, and the bookkeeping of its training — the step it
 * is at, its losses and evaluations, which of its tasks is in flight, the version of each shard's parameters (for
 * exact prefetch), its checkpoints and its early-stopping horizon. The job's loop (job-run.ts) asks it what a task
 * needs and tells it what a task did; what it learns from a task comes back as events and effects.
 */
import type { ArchSpec } from '../../nn/family.js';
import type { ModelProgress } from '../../io/model-checkpoint.js';
import { describeStop } from '../scheduler/early-stopping/index.js';
import type { HydraEvent, ModelResult, ModelStatus, PartitionPlan, TrainOptions, TrainTask } from '../api.js';
import type { ShardOutcome } from '../run/shard-executor.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import { stepsParams } from '../run/prefetch-safety.js';
import type { HostStateBuffers, HostViews } from '../tier/host-state.js';
import type { ModelDiskState } from '../tier/disk-state.js';
import { streamModelState } from '../tier/model-state-io.js';
import type { ResultWeightsFile } from '../tier/result-weights.js';
import type { ModelPlacement } from '../tier/placement.js';
import type { SchedModelInput, SchedTask } from './job-scheduler.js';

/** Steps a task trains for: `steps`, or `epochs` (default 1) of its training data. The one formula. */
export function totalSteps(task: Pick<TrainTask, 'steps' | 'epochs' | 'train'>): number {
  return task.steps ?? (task.epochs ?? 1) * task.train.stepsPerEpoch;
}

export interface ModelJobInit {
  index: number;
  task: TrainTask;
  arch: ArchSpec;
  rt: ModelRuntime;
  buffers: HostStateBuffers;
  views: HostViews;
  /** The part of its state the disk tier holds (absent: all of it in RAM), and where the placement put what. */
  disk?: ModelDiskState;
  placement: ModelPlacement;
  plan: PartitionPlan;
  /** Steps after which it is evaluated (global step indices). */
  evalAfter: Set<number>;
  /** Early stopping: the step count it may train to before a decision (global steps). */
  horizon: number;
  /** Its checkpoint file, when the job checkpoints. */
  checkpoint?: string;
  /** The checkpoint it resumed from: its step and what it recorded. */
  resumed?: { step: number; progress: ModelProgress };
  /** Seconds since the job started (a model resumed as finished ends now). */
  now: number;
  /**
   * Per shard: resolves once every parameter the shard uses holds its initial value (a fresh model is initialised
   * shard by shard while its first tasks already run, shard-init.ts). Absent: every parameter is in place.
   */
  shardsInitialised?: Promise<void>[];
}

/** What a finished task changed, for the loop: events to emit, whether the model diverged, a completed evaluation. */
export interface TaskEffects {
  events: HydraEvent[];
  diverged?: string;
  /** The held-out loss of an evaluation this task completed. */
  evalLoss?: number;
}

export class ModelJob {
  readonly index: number;
  readonly task: TrainTask;
  readonly arch: ArchSpec;
  readonly rt: ModelRuntime;
  readonly buffers: HostStateBuffers;
  readonly views: HostViews;
  readonly disk?: ModelDiskState;
  readonly plan: PartitionPlan;
  readonly totalSteps: number;
  /** Steps already taken when this job started (resumed from a checkpoint), added to the scheduler's minibatch. */
  readonly startStep: number;
  /** Resumed from a checkpoint. */
  readonly resumed: boolean;
  readonly checkpoint?: string;
  readonly result: ModelResult;
  /** The task of this model currently running, if any (at most one). */
  inFlight: SchedTask | null = null;
  /**
   * Per shard: how many completed tasks stepped any of its parameters. A prefetch is taken at one version and used
   * only at the same version, so a step that lands between the copy and the task can never be missed.
   */
  readonly paramsVersion: number[];
  /** The last step a checkpoint was taken at (-1: none in this job). */
  checkpointedAt: number;
  /** Early stopping: the step count it may train to before a decision (global steps). */
  horizon: number;
  /**
   * Its host-tier state was released (stopped early or by name) but for the parameter arrays its result holds: its
   * weights are already in the result.
   */
  released = false;
  /** Stop it by name at its next minibatch boundary. */
  stopRequested = false;
  /** A snapshot of its disk-tier state still being read: its next task (and its release) wait for it. */
  busyUntil?: Promise<void>;
  /** Resolves when every parameter holds its initial value (before that, none may be read but by its shard's tasks). */
  readonly initialised: Promise<void>;
  private readonly shardReady: (Promise<void> | null)[];
  private readonly evalAfter: Set<number>;
  private evalSum = 0;
  private evalCount = 0;

  constructor(i: ModelJobInit) {
    this.index = i.index;
    this.task = i.task;
    this.arch = i.arch;
    this.rt = i.rt;
    this.buffers = i.buffers;
    this.views = i.views;
    this.disk = i.disk;
    this.plan = i.plan;
    this.totalSteps = totalSteps(i.task);
    this.evalAfter = i.evalAfter;
    this.horizon = i.horizon;
    this.startStep = i.resumed?.step ?? 0;
    this.resumed = i.resumed !== undefined;
    this.checkpoint = i.checkpoint;
    this.checkpointedAt = i.resumed ? this.startStep : -1;
    this.paramsVersion = i.plan.shards.map(() => 0);
    const inits = i.shardsInitialised ?? [];
    this.shardReady = i.plan.shards.map((_, k) => inits[k] ?? null);
    // A failed initialisation fails the model's task that waits for it; nothing else awaits these, so mark them handled.
    for (const [k, p] of inits.entries()) p.then(() => (this.shardReady[k] = null), () => undefined);
    this.initialised = Promise.all(inits).then(() => undefined);
    this.initialised.catch(() => undefined);
    const progress = i.resumed?.progress;
    this.result = {
      name: i.task.name, hparams: i.task.hparams ?? {}, status: 'done', losses: progress?.losses ?? [], evals: progress?.evals ?? [],
      steps: this.startStep, wallSeconds: progress?.finished ? i.now : 0, deviceSeconds: 0, plan: i.plan, weights: new Map(),
    };
    const mp = i.placement;
    if (mp.diskBytes > 0) {
      const momentsOnDisk = [...mp.home.values()].filter((h) => h !== 'host').length;
      this.result.placement = { hostBytes: mp.hostBytes, diskBytes: mp.diskBytes, diskGradBytes: mp.diskGradBytes, diskShards: mp.diskShards, diskBoundaries: mp.diskBoundaries, momentsOnDisk, readPerStep: mp.readPerStep, writePerStep: mp.writePerStep };
    }
    if (mp.stashBytes) this.result.activationStashBytes = mp.stashBytes;
    if (progress?.finished && progress.stoppedEarly) {
      this.result.status = 'stopped-early';
      this.result.stoppedEarly = progress.stoppedEarly;
      this.result.reason = describeStop(progress.stoppedEarly);
    }
  }

  get name(): string {
    return this.task.name;
  }

  /** Ended (finished, stopped, failed) — its result has a time. */
  get ended(): boolean {
    return this.result.wallSeconds > 0;
  }

  /** What a task of shard k waits for before it may run: its parameters' initialisation, or nothing (null). */
  shardInitialising(k: number): Promise<void> | null {
    return this.shardReady[k];
  }

  /** Every parameter holds its initial value (so its state may be read whole: checkpoints, copies). */
  get fullyInitialised(): boolean {
    return this.shardReady.every((p) => p === null);
  }

  /** The global training step of a scheduler task (its minibatch counts from where this job started it). */
  stepOf(st: SchedTask): number {
    return st.kind === 'E' ? this.result.steps : this.startStep + st.minibatch;
  }

  /** The first task of a minibatch: the model is at a boundary (nothing in flight, every parameter stepped). */
  static atBoundary(st: SchedTask): boolean {
    return (st.kind === 'F' || st.kind === 'FL') && st.shard === 0;
  }

  /** What the scheduler needs of the model (its steps counted from where this job starts it). */
  schedulerInput(): SchedModelInput {
    return {
      id: this.name,
      plan: this.plan,
      minibatches: this.totalSteps - this.startStep,
      stepsPerEpoch: this.task.train.stepsPerEpoch,
      evalAfter: [...this.evalAfter].filter((p) => p >= this.startStep).map((p) => p - this.startStep).sort((a, b) => a - b),
      evalBatches: this.task.eval?.stepsPerEpoch ?? 0,
      horizon: Math.min(this.horizon, this.totalSteps) - this.startStep,
      offloaded: this.result.activationStashBytes !== undefined,
    };
  }

  /**
   * The first task of a minibatch (or of an eval batch) puts its batch in the host tier; the model has nothing in
   * flight at that moment, so no device is reading the batch buffers.
   */
  prepareInputs(st: SchedTask): void {
    if (st.shard !== 0) return;
    const spe = this.task.train.stepsPerEpoch;
    const step = this.startStep + st.minibatch;
    const b = st.kind === 'E' ? this.task.eval!.batch(0, st.evalBatch!) : this.task.train.batch(Math.floor(step / spe), step % spe);
    this.views.tokens().set(b.tokens);
    this.views.targets().set(b.targets);
  }

  /** A task of this model ended: nothing is in flight; if it ran, the shards whose parameters it stepped get a new version. */
  taskEnded(st: SchedTask, ran: boolean): void {
    this.inFlight = null;
    if (!ran) return;
    const stepped = stepsParams(this.rt, st);
    if (stepped.size === 0) return;
    this.rt.shardParams.forEach((params, k) => {
      if (params.some((p) => stepped.has(p.spec.name))) this.paramsVersion[k]++;
    });
  }

  /** Record what a finished task computed: the loss, a completed step, an evaluation. */
  afterTask(st: SchedTask, o: ShardOutcome, t: number): TaskEffects {
    const events: HydraEvent[] = [];
    const n = this.plan.shards.length;
    const step = this.startStep + st.minibatch;
    if (st.kind === 'FL') {
      this.result.losses.push(o.loss!);
      if (!Number.isFinite(o.loss!)) return { events, diverged: `loss became ${o.loss} at step ${step}` };
    }
    if ((st.kind === 'B' && st.shard === 0) || (st.kind === 'FL' && n === 1)) {
      this.result.steps = step + 1;
      const epoch = Math.floor(step / this.task.train.stepsPerEpoch);
      events.push({ type: 'step', t, model: this.name, step, epoch, loss: this.result.losses[step], gradNorm: o.gradNorm ?? NaN, lr: o.lr ?? NaN });
      if (!Number.isFinite(o.gradNorm ?? 0)) return { events, diverged: `gradient norm became ${o.gradNorm} at step ${step}` };
    }
    if (st.kind === 'E' && st.shard === n - 1) {
      this.evalSum += o.lossSum ?? 0;
      this.evalCount += o.count ?? 0;
      if (st.evalBatch === (this.task.eval?.stepsPerEpoch ?? 0) - 1) {
        const loss = this.evalSum / this.evalCount;
        const epoch = Math.max(0, Math.ceil(this.result.steps / this.task.train.stepsPerEpoch) - 1);
        this.result.evals.push({ epoch, step: this.result.steps, loss, perplexity: Math.exp(loss) });
        events.push({ type: 'eval', t, model: this.name, epoch, loss, perplexity: Math.exp(loss), tokens: this.evalCount });
        this.evalSum = 0;
        this.evalCount = 0;
        return { events, evalLoss: loss };
      }
    }
    return { events };
  }

  /** End the model with a status; returns the model-end event. */
  finish(status: ModelStatus, t: number, reason?: string): HydraEvent {
    this.result.status = status;
    if (reason) this.result.reason = reason;
    this.result.wallSeconds = t;
    return { type: 'model-end', t, model: this.name, status, reason };
  }

  /** What a checkpoint records about the model's training so far. */
  progress(finished: boolean): ModelProgress {
    const { B, T } = this.rt;
    const stop = this.result.stoppedEarly;
    return { name: this.name, stepsPerEpoch: this.task.train.stepsPerEpoch, B, T, losses: this.result.losses, evals: this.result.evals, finished, ...(stop ? { stoppedEarly: stop } : {}) };
  }

  /**
   * Put the final weights in the result (before its state is released, or at the job's end) without holding more
   * RAM than the host cap allows: a parameter the host tier holds is handed over as a view of its array (no copy; the
   * tier keeps it accounted — a released model's parameter arrays stay in its accounts); one on the disk tier is
   * copied piece by piece into the job's result file (`file`) and read back when its `data` is read (after any
   * checkpoint still being written). With `stream` (TrainOptions.streamWeights), a model with state on disk hands its
   * weights to it instead, streamed from the tiers: never whole in memory.
   */
  copyWeights(stream: TrainOptions['streamWeights'] | undefined, file: () => ResultWeightsFile): Promise<void> {
    const inRam = (name: string) => this.buffers.params[name];
    const view = (p: ModelRuntime['params'][number]) => this.result.weights.set(p.spec.name, { shape: [...p.spec.shape], data: new Float32Array(inRam(p.spec.name)) });
    if (!this.disk) {
      // Synchronously: the caller may release the host tier right after.
      for (const p of this.rt.params) view(p);
      return Promise.resolve();
    }
    const disk = this.disk;
    return (async () => {
      await this.busyUntil;
      if (stream) {
        this.result.weightsStreamed = true;
        try {
          await stream(this.result, streamModelState(this.rt, disk, true).params);
        } catch (e) {
          this.result.weightsError = e instanceof Error ? e.message : String(e);
        }
        return;
      }
      let onDisk = 0;
      for (const p of this.rt.params) {
        const n = p.spec.name;
        if (inRam(n)) view(p);
        else {
          this.result.weights.set(n, await file().put([...p.spec.shape], p.n, (dst, offset) => disk.readRange(n, undefined, dst, offset)));
          onDisk += 4 * p.n;
        }
      }
      if (onDisk > 0) this.result.weightsOnDisk = onDisk;
    })();
  }
}
