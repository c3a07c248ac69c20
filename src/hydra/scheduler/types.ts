/**
 * The scheduler's vocabulary. Scheduling touches no tensors: a model is a chain of shards, and per minibatch its
 * work is a strictly sequential list of shard tasks (DESIGN.md §3.3):
 *
 *   F0 … F(n-2)   forward of shard k (store the boundary activation)
 *   FL(n-1)       last shard: forward + loss + backward
 *   B(n-2) … B0   recompute shard k's forward, then its backward
 *
 * With one shard a minibatch is just FL0. After chosen steps (by default the end of every epoch and the last step)
 * an evaluation pass runs `E0 … E(n-1)` for each eval batch. A model never has more than one task in flight.
 */

export type TaskKind = 'F' | 'FL' | 'B' | 'E';

export type PolicyName = 'sharded-lrtf' | 'round-robin' | 'random' | 'model-lrtf' | 'pipeline';

export const POLICY_NAMES: readonly PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];
/** The policy a job uses unless told otherwise: the paper's Sharded-LRTF. */
export const DEFAULT_POLICY: PolicyName = 'sharded-lrtf';

/** Estimated seconds of each phase of one shard (on a speed-1 device), plus the bytes its parameters occupy. */
export interface ShardCost {
  /** Forward only (shard k < n-1 of a training minibatch). */
  F: number;
  /** Forward + loss + backward (the last shard). */
  FL: number;
  /** Recomputed forward + backward (shard k < n-1). */
  B: number;
  /** Evaluation forward. */
  E: number;
  /** Bytes of the shard's parameters: what a device must load before running any of its tasks. */
  paramBytes: number;
}

/**
 * Where shard parameters already are, as the executor (or the simulator) knows it: its device shard caches and the
 * prefetches it started. Lets a policy weigh remaining time against what a switch would copy.
 */
export interface Locality {
  /** Whether the device holds, or is already receiving, shard `shard` of model `model` at its current parameter version. */
  local(device: number, model: number, shard: number): boolean;
  /** Seconds the device takes to copy `bytes` in (measured). */
  copySeconds(device: number, bytes: number): number;
  /** Whether a prefetch of the shard may start now (the model's task in flight does not step its parameters). */
  prefetchable(model: number, shard: number): boolean;
}

/** What the scheduler needs to know about one model. */
export interface ModelSpec {
  /** Unique name (the executor's model name). */
  id: string;
  /** One entry per shard, in chain order. */
  shards: ShardCost[];
  /** Training minibatches in total (epochs × steps per epoch, or a fixed step count). */
  minibatches: number;
  /** Steps per epoch (tasks carry their epoch). Default: `minibatches` (one epoch). */
  stepsPerEpoch?: number;
  /** Batches in one evaluation pass (0 or absent: no evaluation). */
  evalBatches?: number;
  /**
   * Global steps after which an evaluation pass runs. Default (when evalBatches > 0): after the last step of every
   * full epoch and after the last step of training.
   */
  evalAfter?: number[];
  /**
   * Steps the model may run before it holds for a decision (early stopping: its first rung); default minibatches.
   * `Scheduler.extend` moves it on, `Scheduler.stop` ends the model.
   */
  horizon?: number;
}

/** A task's identity (what a peek returns). */
export interface TaskRef {
  modelId: string;
  /** Position of the model in the scheduler's model list (dense, for array lookups). */
  model: number;
  kind: TaskKind;
  shard: number;
  /** Global training step (for E tasks: the step after which the evaluation runs). */
  minibatch: number;
  epoch: number;
  /** Index of the evaluation batch (E tasks only). */
  evalBatch?: number;
}

/** A task handed to a device. */
export interface Task extends TaskRef {
  /** Unique, increasing in assignment order. */
  seq: number;
  device: number;
  /** The scheduler's estimate of its compute seconds when it was assigned. */
  estimate: number;
  /** The `now` of the assign call. */
  assignedAt: number;
}

/**
 * pending: ready for a device · running: a task in flight · held: at its horizon, waiting for a decision (early
 * stopping) · done · failed · stopped: ended before its last step (early stopping, or stopped by name).
 */
export type ModelStatus = 'pending' | 'running' | 'held' | 'done' | 'failed' | 'stopped';

export interface ModelProgress {
  id: string;
  status: ModelStatus;
  reason?: string;
  tasksDone: number;
  tasksTotal: number;
  /** Training steps whose last task completed. */
  stepsDone: number;
  minibatches: number;
  /** Estimated seconds of work left (not-started tasks plus what is left of the one in flight). */
  remainingSeconds: number;
  fraction: number;
}

export type SchedulerEvent =
  | { type: 'assign'; t: number; device: number; task: Task }
  | { type: 'complete'; t: number; device: number; task: Task; seconds: number }
  | { type: 'model-done'; t: number; modelId: string }
  | { type: 'model-failed'; t: number; modelId: string; reason: string; droppedTasks: number }
  | { type: 'model-held'; t: number; modelId: string; step: number }
  | { type: 'model-stopped'; t: number; modelId: string; reason: string; droppedTasks: number }
  | { type: 'model-added'; t: number; modelId: string };

export const KIND_INDEX: Record<TaskKind, number> = { F: 0, FL: 1, B: 2, E: 3 };
