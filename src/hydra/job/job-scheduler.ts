/**
 * The orchestrator's scheduler: the shared, tensor-free Scheduler of src/hydra/scheduler/ (the simulator drives the
 * same one), fed with each model's partition plan (pilot-measured per-shard times and parameter bytes).
 */
import type { PartitionPlan, PolicyName } from '../api.js';
import { Scheduler, shardCost, type Locality, type ModelSpec, type Task } from '../scheduler/index.js';

export type SchedTask = Task;

export interface SchedModelInput {
  id: string;
  plan: PartitionPlan;
  minibatches: number;
  stepsPerEpoch: number;
  evalAfter: number[];
  evalBatches: number;
  /** Steps it may run before an early-stopping decision (default: all). */
  horizon?: number;
  /** Its backward tasks copy stashed activations back instead of recomputing the forward (activation offload). */
  offloaded?: boolean;
}

export function createJobScheduler(models: SchedModelInput[], devices: number, policy: PolicyName, seed: number, locality?: Locality): Scheduler {
  return new Scheduler(models.map(schedSpec), devices, { policy, seed, locality });
}

export function schedSpec(m: SchedModelInput): ModelSpec {
  return {
    id: m.id,
    // Pilot times of zero (a very fast layer on a coarse clock) would make every model look finished.
    shards: m.plan.shards.map((s) => shardCost(Math.max(s.seconds.forward, 1e-6), Math.max(s.seconds.backward, 1e-6), s.paramBytes, undefined, !m.offloaded)),
    minibatches: m.minibatches,
    stepsPerEpoch: m.stepsPerEpoch,
    evalBatches: m.evalBatches,
    evalAfter: m.evalBatches > 0 ? m.evalAfter : undefined,
    horizon: m.horizon,
  };
}
