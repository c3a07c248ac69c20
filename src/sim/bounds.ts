/**
 * Task chains and the cheap makespan lower bound. Any schedule needs at least
 *   - total work / total speed (every device busy all the time), and
 *   - the longest model's work / the fastest speed (a model's tasks are a chain: one at a time, in order).
 * The bound ignores transfers, so with finite bandwidth it also measures what copying costs.
 */
import { ModelState } from '../hydra/scheduler/model-state.js';
import type { ModelSpec } from '../hydra/scheduler/types.js';

/** Each model's tasks in order, as seconds on a speed-1 device. */
export function taskChains(models: readonly ModelSpec[]): number[][] {
  return models.map((spec, i) => {
    const m = new ModelState(i, spec);
    const out: number[] = [];
    while (m.hasWork) {
      const t = m.next();
      out.push(m.estimateOf(t.kind, t.shard));
      m.advance();
    }
    return out;
  });
}

export interface LowerBound {
  bound: number;
  /** Total work / total speed. */
  workBound: number;
  /** Longest chain / fastest speed. */
  chainBound: number;
  totalWork: number;
}

/** The bound from total work per model (cheap even for huge workloads: no chain is expanded). */
export function lowerBound(models: readonly ModelSpec[], speeds: readonly number[]): LowerBound {
  const work = models.map((spec, i) => new ModelState(i, spec).notStarted);
  return boundFromWork(work, speeds);
}

export function boundFromWork(work: readonly number[], speeds: readonly number[]): LowerBound {
  const totalWork = work.reduce((a, b) => a + b, 0);
  const workBound = totalWork / speeds.reduce((a, b) => a + b, 0);
  const chainBound = Math.max(...work) / Math.max(...speeds);
  return { bound: Math.max(workBound, chainBound), workBound, chainBound, totalWork };
}
