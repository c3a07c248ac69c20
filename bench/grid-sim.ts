/**
 * bench:grid's simulator side: the same workload simulated, to put a predicted makespan beside each measured one.
 * The simulator runs the job's own plans through the executor's rules (from-plans.ts: the bytes each task copies;
 * engine.ts: the shard cache, prefetch and device-state rules); its costs are measured on this machine before the
 * timed runs, never taken from them:
 *   - task seconds: the executor's own shard tasks (runShardTask, in a worker thread on a one-thread cpu backend, a
 *     fresh model's host-tier state: grid-calibrate-worker.ts), each task's compute phases — forward, backward with
 *     the shard's recomputed forward, the fused head, the optimizer step, allocation — measured, not summed from the
 *     pilot's per-layer clock; the first step (first writes to fresh host-tier pages) and the later steps apart,
 *     weighted as a job of `steps` steps runs them. Alone, and with a second worker running the same at the same
 *     time (two devices computing at once share the cores; the simulator uses that figure while another device
 *     computes);
 *   - copy bandwidth: the bytes those tasks copied over the seconds they waited for their copies (the way a task
 *     copies: small and large, into fresh device buffers and host-tier pages), weighted the same way; alone, and two
 *     at once (the simulator's sharedBandwidth: a copy while another device computes);
 *   - dispatch seconds: what a device spends between reporting a task and starting its next one that no task
 *     accounts for (the orchestrator's round trip: messages both ways, bookkeeping, scheduling), the median over a
 *     real run's tasks (the warm-up run, before the timed ones).
 * The scheduler inside the simulator is told the plans' own pilot times, as the executor's scheduler is.
 */
import { Worker } from 'node:worker_threads';
import type { PartitionPlan } from '../src/hydra/api.js';
import { simulate } from '../src/sim/engine.js';
import { workloadFromPlans, type PlannedModel } from '../src/sim/from-plans.js';
import type { PolicyName, TaskKind } from '../src/hydra/scheduler/types.js';
import type { TaskTiming } from '../src/hydra/run/task-timing.js';
import type { SimResult } from '../src/sim/types.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import type { TrainRecipe } from '../src/optim/recipe.js';
import type { CalibrateJob, CalibrateResult, TaskCost } from './grid-calibrate-worker.js';
import { median } from './common.js';

function calibrateIn(job: CalibrateJob): Promise<CalibrateResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./grid-calibrate-worker.js', import.meta.url), { workerData: job });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`calibration worker exited (code ${code}) before reporting`)));
  });
}

/** Per task of one step (F…, FL, …B): its cost in a job of `steps` steps — the first step once, the later ones after. */
export interface Calibration {
  tasks: { kind: TaskKind; shard: number; cost: TaskCost }[];
}

const perStep = (first: TaskCost, later: TaskCost, steps: number): TaskCost => {
  const w = (a: number, b: number) => (a + (steps - 1) * b) / steps;
  return { compute: w(first.compute, later.compute), copySeconds: w(first.copySeconds, later.copySeconds), copyBytes: w(first.copyBytes, later.copyBytes) };
};
const calibration = (rs: CalibrateResult[], steps: number): Calibration => ({
  tasks: rs[0].tasks.map((t, i) => {
    const each = rs.map((r) => perStep(r.tasks[i].first, r.tasks[i].later, steps));
    const mean = (f: (c: TaskCost) => number) => each.reduce((a, c) => a + f(c), 0) / each.length;
    return { kind: t.kind, shard: t.shard, cost: { compute: mean((c) => c.compute), copySeconds: mean((c) => c.copySeconds), copyBytes: mean((c) => c.copyBytes) } };
  }),
});

/**
 * The plan's shard tasks run for real, alone (`solo`) and while a second device runs the same (`shared`), for a job
 * of `steps` steps per model (1 + `laterSteps` steps are run).
 */
export async function measureTaskSeconds(config: Gpt2Config, plan: PartitionPlan, recipe: TrainRecipe, budget: number, steps: number, laterSteps = 2): Promise<{ solo: Calibration; shared: Calibration }> {
  const job: CalibrateJob = { config, shards: plan.shards.map(({ from, to }) => ({ from, to })), recipe, B: plan.B, T: plan.T, budget, laterSteps };
  const solo = calibration([await calibrateIn(job)], steps);
  const shared = calibration(await Promise.all([calibrateIn(job), calibrateIn(job)]), steps);
  return { solo, shared };
}

/** Seconds of each task kind of each shard: the measured compute of the real task (its copies are charged apart). */
export function shardSeconds(plan: PartitionPlan, c: Calibration): Partial<Record<TaskKind, number>>[] {
  return plan.shards.map((_, k) => Object.fromEntries(c.tasks.filter((t) => t.shard === k).map((t) => [t.kind, t.cost.compute])));
}

/** Bytes per second of the calibration tasks' own copies, over every calibration given (alone, or two at once). */
export function taskCopyBandwidth(cs: Calibration[]): number {
  const all = cs.flatMap((c) => c.tasks);
  return all.reduce((a, t) => a + t.cost.copyBytes, 0) / all.reduce((a, t) => a + t.cost.copySeconds, 0);
}

/**
 * Seconds between a device's report and its next task that no task accounts for, from a real run's task timings:
 * the median over its tasks (a device's first task has no round trip before it) of the round trip, the wait in the
 * worker's queue and its bookkeeping after the task.
 */
export function dispatchSeconds(timings: TaskTiming[]): number {
  const xs = timings.filter((t) => t.gap !== undefined).map((t) => t.gap! + t.queued + t.after);
  if (xs.length === 0) throw new RangeError('dispatchSeconds: no task with a round trip before it (a run of one task per device?)');
  return median(xs);
}

export interface CalibratedModel extends PlannedModel {
  /** Per shard, per task kind: measured seconds alone and while another device computes. */
  seconds: Partial<Record<TaskKind, number>>[];
  sharedSeconds: Partial<Record<TaskKind, number>>[];
}

/** Simulate the grid under a policy on `devices` cpu devices with the measured costs. */
export function predict(models: CalibratedModel[], devices: number, budget: number, bandwidth: { alone: number; shared: number }, dispatch: number, policy: PolicyName, prefetch = true): SimResult {
  const w = { ...workloadFromPlans('grid', models, devices, budget, bandwidth.alone), sharedBandwidth: bandwidth.shared, dispatchSeconds: dispatch };
  w.models.forEach((m, i) => m.shards.forEach((s, k) => Object.assign(s, { seconds: models[i].seconds[k], sharedSeconds: models[i].sharedSeconds[k] })));
  return simulate(w, { policy, prefetch });
}
