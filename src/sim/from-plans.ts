/**
 * Simulator shards from real partition plans: per shard the pilot's forward/backward seconds, its parameter bytes
 * and peak, and the bytes each kind of task copies besides its parameters — the executor's own copies
 * (shard-executor.ts): the batch, boundary activations in and out, their gradients, the gradients of parameters it
 * shares with a later shard (a tied embedding's gradient, started by the head, comes in to shard 0), and the
 * parameter gradients going back to the host tier. The one mapping from a plan to the simulator: bench:grid
 * simulates its measured runs' plans with it, and the presets and workload files their models' plans
 * (model-profile.ts).
 */
import type { PartitionPlan } from '../hydra/api.js';
import { gradStartsHere, type ModelRuntime } from '../hydra/run/model-runtime.js';
import { stepsParams } from '../hydra/run/prefetch-safety.js';
import { shardCost } from '../hydra/scheduler/shard-cost.js';
import type { TaskKind } from '../hydra/scheduler/types.js';
import type { SimModel, SimShard, Workload } from './types.js';

/** What the plan alone does not say about a shard's tasks, read from the model's runtime (runtimeIo). */
export interface ShardIo {
  /** Per shard: stepped on its device against resident optimizer state (no gradient copies). */
  deviceSteps?: boolean[];
  /** Per shard: gradient bytes its training task copies in (shared parameters whose gradient a later shard started). */
  gradInBytes?: number[];
}

export interface PlannedModel extends ShardIo {
  id: string;
  plan: PartitionPlan;
  steps: number;
  /** Global-norm clipping (every parameter is stepped by shard 0's backward). */
  clipping: boolean;
}

/** Bytes of the i32 token (or target) buffer of one batch. */
const tokenBytes = (plan: PartitionPlan) => plan.B * plan.T * 4;

/** Per shard, the gradient bytes its training task copies in from the host tier, as runShardTask does. */
export function gradInBytes(rt: ModelRuntime): number[] {
  return rt.shardParams.map((ps, k) => ps.reduce((n, p) => n + (gradStartsHere(p, k) ? 0 : 4 * p.n), 0));
}

/** Per shard, the parameter elements its training task (FL on the last shard, B below) steps (prefetch-safety.ts). */
export function stepElements(rt: ModelRuntime): number[] {
  const last = rt.shards.length - 1;
  return rt.shards.map((_, k) => [...stepsParams(rt, { kind: k === last ? 'FL' : 'B', shard: k })].reduce((n, name) => n + rt.byName.get(name)!.n, 0));
}

/**
 * Non-parameter bytes each task kind of shard k moves (in + out), as the executor copies them. `onDevice`: the shard
 * is stepped on its device, so its gradients stay there; `gradIn`: gradient bytes a training task copies in.
 */
export function taskBytes(plan: PartitionPlan, k: number, onDevice = false, gradIn = 0): Partial<Record<TaskKind, number>> {
  const n = plan.shards.length, s = plan.shards[k];
  const input = k === 0 ? tokenBytes(plan) : s.inputBytes;
  const dx = k === 0 ? 0 : s.inputBytes; // the input gradient goes back (none for the token input)
  const output = k < n - 1 ? plan.shards[k + 1].inputBytes : 0;
  const grads = gradIn + (onDevice ? 0 : s.paramBytes); // parameter gradients back to the host tier after every FL/B
  if (k === n - 1) return { FL: input + tokenBytes(plan) + dx + grads, E: input + tokenBytes(plan) };
  return { F: input + output, B: input + output + dx + grads, E: input + output };
}

/** The plan's shards as the simulator sees them. */
export function simShards(plan: PartitionPlan, io: ShardIo = {}): SimShard[] {
  return plan.shards.map((s, k): SimShard => ({
    ...shardCost(s.seconds.forward, s.seconds.backward, s.paramBytes),
    peakBytes: Math.max(s.peakBytes.forward, s.peakBytes.train),
    taskBytes: taskBytes(plan, k, io.deviceSteps?.[k], io.gradInBytes?.[k]),
    ...(io.deviceSteps?.[k] ? { stepsOnDevice: true } : {}),
  }));
}

export function workloadFromPlans(name: string, models: PlannedModel[], devices: number, memoryBytes: number, bandwidth: number): Workload {
  const sim: SimModel[] = models.map((m) => ({ id: m.id, minibatches: m.steps, clipping: m.clipping, reserve: m.plan.reserve, shards: simShards(m.plan, m) }));
  return { name, models: sim, devices: Array.from({ length: devices }, () => ({ speed: 1, memoryBytes })), bandwidth, stepOn: 'host' };
}
