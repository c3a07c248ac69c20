/**
 * The optimality study: random small instances, each simulated under the policies (compute only: infinite
 * bandwidth, since the MILP has no transfers) and solved exactly by the MILP, with the heuristic's schedule as the
 * solver's first incumbent.
 */
import type { PolicyName } from '../hydra/scheduler/types.js';
import { hashUniform, simulate } from './engine.js';
import { taskChains } from './bounds.js';
import { solveOptimal, type OptimalResult, type ScheduledTask } from './milp.js';
import type { SimModel, SimResult, TimelineEntry, Workload } from './types.js';

export interface InstanceShape {
  models: [number, number];
  shards: [number, number];
  minibatches: [number, number];
  devices: [number, number];
  /** Device speeds drawn from {1, 1.5, 2} instead of all 1. */
  hetero: boolean;
  /** Resample until the instance has at most this many tasks. */
  maxTasks: number;
}

export const SMALL: InstanceShape = { models: [3, 5], shards: [1, 3], minibatches: [1, 2], devices: [2, 3], hetero: false, maxTasks: 20 };

/** A random small workload (deterministic in the seed). */
export function randomInstance(seed: number, shape: InstanceShape = SMALL): Workload {
  for (let attempt = 0; ; attempt++) {
    let draw = 0;
    const u = () => hashUniform(seed, attempt, draw++);
    const int = ([lo, hi]: [number, number]) => lo + Math.floor(u() * (hi - lo + 1));
    const models: SimModel[] = Array.from({ length: int(shape.models) }, (_, i) => {
      const n = int(shape.shards);
      const shards = Array.from({ length: n }, () => {
        const f = 0.5 + 1.5 * u();
        const b = f * (1.5 + 1.5 * u());
        return { F: f, FL: f + b, B: f + b, E: f, paramBytes: 0, peakBytes: 0 };
      });
      return { id: `m${i}`, shards, minibatches: int(shape.minibatches) };
    });
    const tasks = models.reduce((a, m) => a + m.minibatches * (2 * m.shards.length - 1), 0);
    if (tasks > shape.maxTasks) continue;
    const speeds = Array.from({ length: int(shape.devices) }, () => (shape.hetero ? [1, 1.5, 2][Math.floor(u() * 3)] : 1));
    return { name: `random-${seed}`, models, devices: speeds.map((speed) => ({ speed, memoryBytes: 1 })), bandwidth: Infinity };
  }
}

/** The simulated schedule in the MILP's terms (task index within each model's chain). */
export function scheduleOf(timeline: readonly TimelineEntry[]): ScheduledTask[] {
  const count = new Map<number, number>();
  return timeline.map((t) => {
    const index = count.get(t.model) ?? 0;
    count.set(t.model, index + 1);
    return { model: t.model, index, device: t.device, start: t.start, end: t.end };
  });
}

export interface InstanceComparison {
  name: string;
  models: number;
  tasks: number;
  speeds: number[];
  optimal: OptimalResult;
  /** Per policy: makespan and its ratio to the optimum (or to the best bound when not proven). */
  policies: Record<string, { makespan: number; ratio: number }>;
}

export async function compareWithOptimal(w: Workload, policies: readonly PolicyName[], timeLimit = 30): Promise<InstanceComparison> {
  const compute: Workload = { ...w, bandwidth: Infinity };
  const sims = new Map<PolicyName, SimResult>();
  for (const p of policies) sims.set(p, simulate(compute, { policy: p, timeline: p === 'sharded-lrtf' }));
  const lrtf = sims.get('sharded-lrtf') ?? simulate(compute, { policy: 'sharded-lrtf', timeline: true });
  const speeds = w.devices.map((d) => d.speed);
  const optimal = await solveOptimal(taskChains(w.models), speeds, { timeLimit, incumbent: scheduleOf(lrtf.timeline!) });
  const reference = optimal.status === 'optimal' ? optimal.makespan! : optimal.bound;
  const out: InstanceComparison = { name: w.name, models: w.models.length, tasks: optimal.tasks, speeds, optimal, policies: {} };
  for (const [p, r] of sims) out.policies[p] = { makespan: r.makespan, ratio: r.makespan / reference };
  return out;
}
