/** The simulator's inputs: a workload (models with a cost model, devices, the host link) and run options. */
import type { ModelSpec, PolicyName, ShardCost } from '../hydra/scheduler/types.js';
import type { EarlyStoppingConfig } from '../hydra/scheduler/early-stopping/types.js';

export interface SimShard extends ShardCost {
  /** Device bytes while the shard's heaviest task runs (parameters, gradients, activations, workspace). */
  peakBytes: number;
}

export interface SimModel extends ModelSpec {
  shards: SimShard[];
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
    /** Bytes copied host→device. */
    bytes: number;
    /** Tasks whose shard was already on the device (same shard as the task before). */
    resident: number;
    /** Tasks whose shard had been prefetched on the peek hint. */
    prefetchHits: number;
    /** Tasks that waited for a serial copy. */
    serial: number;
    /** Seconds devices sat waiting for parameters. */
    stallSeconds: number;
  };
  timeline?: TimelineEntry[];
}
