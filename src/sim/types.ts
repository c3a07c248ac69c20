/** The simulator's inputs: a workload (models with a cost model, devices, the host link) and run options. */
import type { ModelSpec, PolicyName, ShardCost, TaskKind } from '../hydra/scheduler/types.js';
import type { EarlyStoppingConfig } from '../hydra/scheduler/early-stopping/types.js';

export interface SimShard extends ShardCost {
  /** Device bytes while the shard's heaviest task runs (parameters, gradients, activations, workspace). */
  peakBytes: number;
  /**
   * Bytes each kind of task copies besides the shard's parameter values (batch, boundary activations and their
   * gradients, parameter gradients), in and out together: what the executor's task moves (default 0).
   */
  taskBytes?: Partial<Record<TaskKind, number>>;
  /**
   * Stepped on the device that runs its backward, against optimizer state resident there (the executor's
   * run/device-state.ts): its copy stays current on that device even when the workload steps on the host. Not
   * modelled: the write-back (parameters and state) when the shard's next task runs on another device.
   */
  stepsOnDevice?: boolean;
  /**
   * Seconds each kind of task computes, when measured apart from the scheduler's estimate (F/FL/B/E, which the
   * scheduler is told, as the executor's scheduler is told the plan's pilot times): `seconds` alone on the machine,
   * `sharedSeconds` while another device computes too (they share the cores' memory bandwidth). Default: the estimate.
   */
  seconds?: Partial<Record<TaskKind, number>>;
  sharedSeconds?: Partial<Record<TaskKind, number>>;
}

export interface SimModel extends ModelSpec {
  shards: SimShard[];
  /**
   * Global-norm gradient clipping: every parameter is stepped once the norm is known, by shard 0's backward (the
   * executor's rule), rather than each shard's by its own backward.
   */
  clipping?: boolean;
  /**
   * The plan's prefetch reserve: a prefetch is started beside this model's tasks only for a shard whose parameters fit
   * it (the executor's rule). Absent: whenever the running task's peak and the parameters fit the device's memory.
   */
  reserve?: number;
}

export interface SimDevice {
  /** Relative speed: a task of estimated t seconds takes t / speed. */
  speed: number;
  memoryBytes: number;
}

export interface Workload {
  name: string;
  description?: string;
  models: SimModel[];
  devices: SimDevice[];
  /** Host↔device bytes per second, per device link (Infinity: transfers are free). */
  bandwidth: number;
  /**
   * Bytes per second of a copy that runs while a device computes (default `bandwidth`): a serial copy while another
   * device computes, and a prefetch beside its own device's task. On a cpu, copies and compute share the cores'
   * memory bandwidth, and bench:grid measures this figure apart (the executor's tasks two at once).
   */
  sharedBandwidth?: number;
  /**
   * Seconds from a device being given a task to the task starting, beyond its copies (default 0): what the executor
   * spends between a device's report and its next task (the orchestrator's round trip — messages both ways, the
   * main thread's bookkeeping and scheduling), measured on the real system (bench:grid).
   */
  dispatchSeconds?: number;
  /**
   * Where the optimizer steps (default 'device'). 'host': the host tier's copy is stepped and a device's resident
   * copy of a stepped shard goes stale (today's executor: its copies are always taken from the host tier).
   * 'device': the device that runs the stepping task updates its own copy, which stays current there.
   */
  stepOn?: 'host' | 'device';
}

export interface SimOptions {
  policy?: PolicyName;
  /** Seed of the random policy and of the noise (default 0). */
  seed?: number;
  /** Prefetch the peeked next shard while the current one computes (default true). */
  prefetch?: boolean;
  /** Refine estimates from measurements (default true). */
  refine?: boolean;
  /** Actual durations deviate from the cost model by a uniform factor in [1 - noise, 1 + noise] (default 0). */
  noise?: number;
  /** The scheduler's pilot estimates are off by a per-(model, phase, shard) factor in [1 - e, 1 + e] (default 0). */
  pilotError?: number;
  /** Models that diverge: id → the step whose loss is NaN (the model fails after that step's FL task). */
  failures?: Record<string, number>;
  /** Keep every task's timing (for Gantt charts; memory grows with the task count). */
  timeline?: boolean;
  /**
   * Early stopping on synthetic learning curves: `curve(model, step)` is model `model`'s held-out loss after `step`
   * steps (a pure function). Rung evaluations are added to each model's evaluation passes (and priced).
   */
  earlyStopping?: { rule: EarlyStoppingConfig; curve: (model: number, step: number) => number };
}

export interface TimelineEntry {
  device: number;
  modelId: string;
  model: number;
  kind: string;
  shard: number;
  minibatch: number;
  /** When the device got the task, when compute began (after any transfer stall), when it ended. */
  assigned: number;
  start: number;
  end: number;
}

export interface SimResult {
  workload: string;
  policy: PolicyName;
  makespan: number;
  tasks: number;
  devices: { id: number; speed: number; busySeconds: number; stallSeconds: number; tasks: number; utilisation: number }[];
  /** Mean over devices of compute seconds / makespan. */
  utilisation: number;
  models: { id: string; status: string; finish: number; reason?: string }[];
  transfers: {
    /** Bytes copied host→device for parameters (serial copies and prefetches). */
    bytes: number;
    /** Other bytes tasks copied (batch, activations, gradients; SimShard.taskBytes). */
    taskBytes: number;
    /** Tasks whose shard was already on the device, current (the device shard cache). */
    resident: number;
    /** Cached shards evicted to make room (least recently used first). */
    evictions: number;
    /** Tasks whose shard had been prefetched on the peek hint. */
    prefetchHits: number;
    /** Prefetches no task used (another task came first, or the job ended): copied, counted in `bytes`, dropped. */
    prefetchDropped: number;
    /** Tasks that waited for a serial copy. */
    serial: number;
    /** Seconds devices sat waiting for parameters. */
    stallSeconds: number;
  };
  timeline?: TimelineEntry[];
}
