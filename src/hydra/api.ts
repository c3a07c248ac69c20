/**
 * The public shape of a Hydra job: what `train(tasks, options)` takes, what it returns and the events it emits.
 * The CLI, progress bars, result files and the dashboard consume exactly these types.
 */
import type { CacheTotals } from './run/shard-cache.js';
import type { TaskTiming } from './run/task-timing.js';
import type { ArchSpec } from '../nn/family.js';
import type { PolicyName, TaskKind } from './scheduler/types.js';
import type { HostTensor, WeightSource } from '../nn/host-tensor.js';
import type { TensorLike } from '../io/streamed-tensor.js';
export type { WeightSource } from '../nn/host-tensor.js';
import type { OptimizerConfig } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import type { EarlyStoppingConfig, StopReason } from './scheduler/early-stopping/types.js';

/** A source of minibatches whose order depends only on (seed, epoch). */
export interface BatchSource {
  /** Batches per epoch. */
  stepsPerEpoch: number;
  B: number;
  T: number;
  /** The batch at (epoch, step): a pure function of its arguments. */
  batch(epoch: number, step: number): { tokens: Int32Array; targets: Int32Array };
}

export interface TrainTask {
  /** Unique name of the model in the job (e.g. 'lr=3e-4,bs=8'). */
  name: string;
  /**
   * The model as plain data: a family name and its config (e.g. `gpt2Arch('gpt2-mini')`, or your own family's spec —
   * see src/nn/family.ts). Device workers rebuild the model from it.
   */
  model: ArchSpec;
  /**
   * Initial weights (e.g. a pretrained GPT-2): tensors in memory (copied into the host tier), or a WeightSource that
   * reads them straight into the host tier (hfGpt2Weights, hfLlamaWeights); default: each parameter's init rule,
   * seeded by `seed`.
   */
  weights?: Map<string, HostTensor> | WeightSource;
  optimizer: OptimizerConfig;
  schedule?: LrSchedule;
  /** Global-norm gradient clipping threshold; 0 or absent disables. */
  clipNorm?: number;
  train: BatchSource;
  /** Held-out batches evaluated after every epoch (all of them, in order). */
  eval?: BatchSource;
  /** Train for this many epochs ... */
  epochs?: number;
  /** ... or exactly this many steps (overrides epochs; may cross epoch boundaries). */
  steps?: number;
  seed: number;
  /**
   * Train this model only up to this step index in this job (a cluster segment's end): at that minibatch boundary
   * it is checkpointed (with `checkpointDir`) and ends 'stopped'. Its schedule still spans `steps`/`epochs`, so a
   * later job resumed from that checkpoint continues bitwise as one uninterrupted run.
   */
  stopAtStep?: number;
  /** Free-form hyper-parameters to carry into results (lr, batch size, ...). */
  hparams?: Record<string, string | number | boolean>;
}

export type { PolicyName, TaskKind } from './scheduler/types.js';

export interface TrainOptions {
  /** 'cpu:NxT' (N devices of T threads), 'js:N', 'webgpu:N'. */
  devices: string;
  /** Per-device memory budget, bytes or a string like '512MiB'. */
  deviceMemory: number | string;
  /**
   * Host tier cap (bytes or string): a hard limit on the model state hydra-dl holds in RAM; what does not fit goes to
   * the disk tier. Default: a share of physical RAM (tier/physical-memory.ts).
   */
  hostMemory?: number | string;
  /**
   * Where the disk tier puts its scratch files (default `.hydra/spill`, created when first needed); null: no disk
   * tier, so state beyond hostMemory is refused.
   */
  spillDir?: string | null;
  /** Create spillDir when it is missing (a default location); otherwise a missing spillDir is an error. */
  createSpillDir?: boolean;
  policy?: PolicyName;
  /** Seed of the `random` policy. */
  policySeed?: number;
  /** Where partition plans are cached (default .hydra/plans); null disables the cache. */
  planDir?: string | null;
  /** Receives every event as it happens. */
  onEvent?: (e: HydraEvent) => void;
  /** Bytes of prefetch reserve the partitioner leaves free (default: derived from the plan). */
  prefetchReserve?: number;
  /**
   * Receives the final weights of each model whose state lives partly on disk (its training ended and its tier is
   * readable: not a model whose disk failed), streamed from the tiers — each tensor read piece by piece as it is
   * written, e.g. by saveModelWeights — before its scratch is removed. Such a model's `weights` then stays empty
   * (`weightsStreamed`). Without it, the parameters that lived on disk are copied into the result's weights file and
   * read from it on access (ModelResult.weightsOnDisk). A failure is recorded in the model's `weightsError`, not thrown.
   */
  streamWeights?: (model: ModelResult, weights: Map<string, TensorLike>) => Promise<void>;
  /** Disable prefetching (benchmarks compare). */
  prefetch?: boolean;
  /**
   * 'recompute' (default, the Hydra design): only shard-boundary activations are kept and each backward task
   * recomputes its shard's forward. 'offload': each forward task copies what its shard's backward reads to the host
   * tier and the backward copies it back instead of recomputing — granted only where the whole job, stashes included,
   * fits the host tier in RAM (else the job recomputes, and the plan says why). Bitwise the same training either way.
   */
  activations?: 'recompute' | 'offload';
  /**
   * Keep shard parameters on their device between tasks while the budget allows (the device shard cache, default
   * true); false copies every task's shard in from the host tier (benchmarks and tests compare).
   */
  shardCache?: boolean;
  /**
   * Step a shard whose parameters no other shard uses on its device, keeping its optimizer state there and writing it
   * back only when needed (run/device-state.ts; default true with the shard cache); false steps on the host tier
   * (benchmarks and tests compare).
   */
  deviceState?: boolean;
  /**
   * Set models up behind the running job (default true): the first model trains as soon as its first shard is
   * initialised while the others are given their state and weights. false gives every model its state and weights
   * before anything trains (benchmarks compare). Planning and the placement's preflight come first either way.
   */
  overlapSetUp?: boolean;
  /**
   * Where each model's checkpoint lives (`<dir>/<safe model name>.ckpt`). Checkpoints are taken at minibatch
   * boundaries only, so a resumed model continues bitwise as if never stopped.
   */
  checkpointDir?: string;
  /** Checkpoint every model every this many steps (0, the default: only when the job is stopped). */
  checkpointEvery?: number;
  /** Continue every model that has a checkpoint in `checkpointDir` (it must match the task); the rest start afresh. */
  resume?: boolean;
  /**
   * Stop the job: each model finishes the minibatch it is in, is checkpointed (with `checkpointDir`) and ends with
   * status 'stopped'; models already finished stay 'done' (and are checkpointed as finished).
   */
  signal?: AbortSignal;
  /**
   * Stop losing models early (ASHA or the median rule, judged on the held-out loss at rung boundaries; every task
   * needs `eval`). Default `{ kind: 'none' }`: every model trains to its end.
   */
  earlyStopping?: EarlyStoppingConfig;
}

/** What task-start and task-end both say: which task of which model, on which device, when. */
export interface TaskEventBase {
  t: number;
  device: number;
  model: string;
  kind: TaskKind;
  shard: number;
  step: number;
}

export type HydraEvent =
  | { type: 'plan'; model: string; plan: PartitionPlan; reused: boolean }
  | ({ type: 'task-start' } & TaskEventBase)
  | ({
      type: 'task-end';
      /** Seconds computing (excluding waiting for transfers). */
      computeSeconds: number;
      /** Bytes this task copied host→device and device→host itself (prefetched bytes are not among them). */
      bytesIn: number;
      bytesOut: number;
      /** Bytes of this task's parameters that arrived by prefetch, and seconds of the next prefetch's copying that overlapped its compute. */
      prefetchedBytes: number;
      overlapSeconds: number;
      /** Where the device's time around the task went, phase by phase (run/task-timing.ts); absent from older event logs. */
      timing?: TaskTiming;
    } & TaskEventBase)
  | { type: 'step'; t: number; model: string; step: number; epoch: number; loss: number; gradNorm: number; lr: number }
  | { type: 'eval'; t: number; model: string; epoch: number; loss: number; perplexity: number; tokens: number }
  | { type: 'model-end'; t: number; model: string; status: ModelStatus; reason?: string }
  | { type: 'checkpoint'; t: number; model: string; step: number; path: string; finished: boolean }
  /** An early-stopping decision at a rung: the model goes on to `horizon` steps, or stops (with its reason). */
  | { type: 'rung'; t: number; model: string; step: number; action: 'continue' | 'stop'; horizon: number; reason?: StopReason }
  /** A model's state was placed in the host tier: its bytes, and the tier's bytes in use after. */
  | { type: 'host-alloc'; t: number; model: string; bytes: number; inUse: number }
  /** A model's host-tier state was released (it stopped early or was stopped by name): bytes freed, bytes still in use. */
  | { type: 'host-release'; t: number; model: string; bytes: number; inUse: number }
  | { type: 'model-added'; t: number; model: string }
  | { type: 'log'; t: number; message: string };

/** `stopped-early`: ended by early stopping (its reason says the rung, metric and threshold). */
export type ModelStatus = 'done' | 'diverged' | 'failed' | 'stopped' | 'stopped-early';

export interface ShardPlan {
  /** Layers [from, to). */
  from: number;
  to: number;
  layerNames: string[];
  paramBytes: number;
  /** Bytes of the boundary activation entering the shard. */
  inputBytes: number;
  /** Peak device bytes of the shard's heaviest task (exact, from the allocator trace). */
  peakBytes: { forward: number; train: number };
  /** Seconds measured in the pilot pass. */
  seconds: { forward: number; backward: number };
}

export interface PartitionPlan {
  key: string;
  arch: string;
  backend: string;
  B: number;
  T: number;
  budget: number;
  reserve: number;
  shards: ShardPlan[];
}

export interface ModelResult {
  name: string;
  hparams: Record<string, string | number | boolean>;
  status: ModelStatus;
  reason?: string;
  /** Training loss of every step taken, in order. */
  losses: number[];
  /** Held-out evaluations in order; `step`: training steps taken when it ran. */
  evals: { epoch: number; step?: number; loss: number; perplexity: number }[];
  /** Why early stopping ended this model (status 'stopped-early'). */
  stoppedEarly?: StopReason;
  steps: number;
  /** Seconds from the job's start to this model's last task. */
  wallSeconds: number;
  /** Device-seconds spent on this model's tasks. */
  deviceSeconds: number;
  plan: PartitionPlan;
  /**
   * Final weights, held without breaking `hostMemory`: a parameter the host tier held is a view of its host-tier
   * array (no copy); one that lived on the disk tier is kept in a file in spillDir (unlinked: it is gone when the
   * process ends) and its `data` is read from there on every access — a new array each time, so keep the reference
   * while you use it (`weightsOnDisk`). Empty when they were streamed instead (`weightsStreamed`).
   */
  weights: Map<string, HostTensor>;
  /** Bytes of `weights` kept in the result's file and read on access (parameters that lived on disk). */
  weightsOnDisk?: number;
  /** Its state lived partly on disk and its final weights went to TrainOptions.streamWeights (`weightsError`: that failed). */
  weightsStreamed?: boolean;
  weightsError?: string;
  /** The last checkpoint written for this model in this job (with `checkpointDir`), and its step. */
  checkpoint?: { path: string; step: number };
  /** Bytes of host tier its activation stashes took, where activation offload was granted (TrainOptions.activations). */
  activationStashBytes?: number;
  /** Where the placement put its state when part of it went to disk (tier/placement.ts). */
  placement?: { hostBytes: number; diskBytes: number; diskGradBytes: number; diskShards: number[]; diskBoundaries: number[]; momentsOnDisk: number; readPerStep: number; writePerStep: number };
}

/**
 * A device's prefetch counters since it started. Cumulative, so the last report of a device (its 'stopped' message)
 * holds its totals, and every prefetch is counted once: copiedBytes = usedBytes + droppedBytes once the device stops.
 */
export interface PrefetchTotals {
  /** Bytes copied host→device ahead of the task the scheduler expected next. */
  copiedBytes: number;
  /** Of those, bytes handed to the task they were copied for. */
  usedBytes: number;
  /** Bytes freed unused: stale (a step landed since the copy), not the task that came, or left when the device stopped. */
  droppedBytes: number;
  /** Prefetches cut short because they did not fit beside the running task (its task loads the rest itself). */
  failures: number;
}

/** Why the shard a device's hint named was not prefetched beside its running task. */
export type PrefetchRefusal =
  | 'unsafe' // the hinted model's task in flight steps that shard's parameters
  | 'initialising' // the shard's parameters are not all in place yet
  | 'disk' // staged from the disk tier (its own prefetch path) or stepped there
  | 'reserve' // its parameters exceed the running task's planned prefetch reserve
  | 'held-elsewhere' // its only current copy is on another device (stepped there)
  | 'off'; // prefetching is turned off

/**
 * What the scheduler's locality knowledge was worth: each task a device started after a prefetch hint (the scheduler's
 * guess, when the previous task started, of what that device runs next) followed it or broke it — a broken hint
 * drops its prefetch and copies serially; `hintsTakenElsewhere` of the broken ones because another device ran the
 * hinted task. `copiedResidentElsewhere`: tasks that copied a shard another device held current in its cache.
 */
export interface LocalityTotals {
  hintsFollowed: number;
  hintsBroken: number;
  hintsTakenElsewhere: number;
  noHint: number;
  prefetchRefused: Partial<Record<PrefetchRefusal, number>>;
  copiedResidentElsewhere: number;
}

export interface JobResult {
  models: ModelResult[];
  makespanSeconds: number;
  /**
   * Per device: `highWater`, the most bytes its allocator counted at once; `heldHighWater`, where the backend pools
   * freed buffers (webgpu), the most device bytes it held at once — live and pooled — as the pool counts them;
   * `outsideRegion`, where the device serves buffers from one reserved region (cpu with a budget), the fresh
   * allocations made outside it because it had no room (fragmentation; MemoryStats.outsideRegion): 0 at most budgets,
   * a few at a budget its plan's peak fills to within a percent (each costs first-touch page faults once).
   */
  devices: { id: number; busySeconds: number; utilisation: number; highWater: number; heldHighWater?: number; outsideRegion?: number; budget: number }[];
  policy: PolicyName;
  /** Every byte copied between the host tier and the devices: the tasks' own copies and every prefetched copy. */
  bytesMoved: number;
  /** Prefetched copies, summed over the devices (included in bytesMoved): copied = used + dropped. */
  prefetch: PrefetchTotals;
  /** The device shard caches, summed over the devices: tasks that found their shard resident, and what they saved. */
  shardCache?: CacheTotals;
  /** Prefetch hints followed and broken, prefetches refused and why (job-locality.ts). */
  locality?: LocalityTotals;
  overlapSeconds: number;
  /** The host tier's accounts at the end of the job (a released model's state is no longer in use). */
  hostTier?: { budget: number; inUse: number; highWater: number };
  /**
   * Scratch the disk tier held (bytes now, most at once) and the bytes it read and wrote; of those read, the bytes
   * read ahead for a device's next task (any model's) and, of those, copied to the device before it came.
   */
  diskTier?: { inUse: number; highWater: number; bytesRead: number; bytesWritten: number; aheadReadBytes: number; aheadUploadedBytes: number };
  /** The process's peak resident memory (VmHWM) when training ended, before final weights were put in the results (Linux). */
  peakRssBytes?: number;
}
