/**
 * Simulator shards from real partition plans: per shard the pilot's forward/backward seconds, its parameter bytes
 * and peak, and the bytes each kind of task copies besides its parameters — the executor's own copies
 * (shard-executor.ts): the batch, boundary activations in and out, their gradients, and the parameter gradients going
 * back to the host tier. The one mapping from a plan to the simulator: bench:grid simulates its measured runs' plans
 * with it, and the presets and workload files their models' plans (model-profile.ts).
 */
import type { PartitionPlan } from '../hydra/api.js';
import { shardCost } from '../hydra/scheduler/shard-cost.js';
import type { TaskKind } from '../hydra/scheduler/types.js';
import type { SimModel, SimShard, Workload } from './types.js';

export interface PlannedModel {
  id: string;
  plan: PartitionPlan;
  steps: number;
  /** Global-norm clipping (every parameter is stepped by shard 0's backward). */
  clipping: boolean;
  /** Per shard: stepped on its device against resident optimizer state (run/device-state.ts deviceSteppable). */
  deviceSteps?: boolean[];
}

/** Bytes of the i32 token (or target) buffer of one batch. */
const tokenBytes = (plan: PartitionPlan) => plan.B * plan.T * 4;

/**
 * Non-parameter bytes each task kind of shard k moves (in + out), as the executor copies them. `onDevice`: the shard
 * is stepped on its device, so its gradients stay there.
 */
export function taskBytes(plan: PartitionPlan, k: number, onDevice = false): Partial<Record<TaskKind, number>> {
  const n = plan.shards.length, s = plan.shards[k];
  const input = k === 0 ? tokenBytes(plan) : s.inputBytes;
  const dx = k === 0 ? 0 : s.inputBytes; // the input gradient goes back (none for the token input)
  const output = k < n - 1 ? plan.shards[k + 1].inputBytes : 0;
  const grads = onDevice ? 0 : s.paramBytes; // parameter gradients back to the host tier after every FL/B
  if (k === n - 1) return { FL: input + tokenBytes(plan) + dx + grads, E: input + tokenBytes(plan) };
  return { F: input + output, B: input + output + dx + grads, E: input + output };
}

/** The plan's shards as the simulator sees them; `deviceSteps`: per shard, stepped on its device (no gradient copies). */
export function simShards(plan: PartitionPlan, deviceSteps?: boolean[]): SimShard[] {
  return plan.shards.map((s, k): SimShard => ({
    ...shardCost(s.seconds.forward, s.seconds.backward, s.paramBytes),
    peakBytes: Math.max(s.peakBytes.forward, s.peakBytes.train),
    taskBytes: taskBytes(plan, k, deviceSteps?.[k]),
    ...(deviceSteps?.[k] ? { stepsOnDevice: true } : {}),
  }));
}

export function workloadFromPlans(name: string, models: PlannedModel[], devices: number, memoryBytes: number, bandwidth: number): Workload {
  const sim: SimModel[] = models.map((m) => ({ id: m.id, minibatches: m.steps, clipping: m.clipping, shards: simShards(m.plan, m.deviceSteps) }));
  return { name, models: sim, devices: Array.from({ length: devices }, () => ({ speed: 1, memoryBytes })), bandwidth, stepOn: 'host' };
}
