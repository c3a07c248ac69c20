/**
 * The early stopper: the bookkeeping common to every rule — each model's rung ladder, the results recorded at each
 * rung, which models wait for a decision, and the fixed-order readiness test (see types.ts). A rule only says where
 * a model's rungs are, which models it is compared with, and how one decision is taken.
 */
import type { EarlyStoppingMetric, EarlyStoppingMode, RungDecision, StopReason } from './types.js';

/** One model as the stopper sees it. */
export interface Entrant {
  index: number;
  /** Rung step counts, ascending (each < the model's total steps). */
  rungs: number[];
  totalSteps: number;
  /** Comparison group (ASHA: the bracket; median: everyone). */
  group: number;
  /** Result per rung step, in the orientation of the metric (smaller is better after `key`). */
  results: Map<number, number>;
  /** Ended (stopped, finished, failed, withdrawn): it reports nothing more. */
  ended: boolean;
  /** The rung it reached and waits at, if any. */
  waitingAt: number | null;
}

export interface Rule {
  readonly name: 'asha' | 'median';
  /** The rung steps of a model with this index and length. */
  rungs(index: number, totalSteps: number): number[];
  group(index: number): number;
  /** Decide for `me` at rung `step`, given the peers before it in its group that recorded this rung (in order). */
  decide(me: Entrant, step: number, peers: Entrant[]): { stop: boolean; threshold: number; value: number };
}

export class EarlyStopper {
  private readonly entrants: Entrant[] = [];

  constructor(
    private readonly rule: Rule,
    readonly metric: EarlyStoppingMetric,
    readonly mode: EarlyStoppingMode,
  ) {}

  /**
   * Register the next model of the job (indices are dense and increasing: the fixed order). Returns its first
   * horizon: the step count at which it must be judged, or its total steps if it has no rung.
   */
  add(index: number, totalSteps: number): number {
    if (index !== this.entrants.length) throw new RangeError(`early stopping: models must be added in order (expected index ${this.entrants.length}, got ${index})`);
    const rungs = this.rule.rungs(index, totalSteps).filter((r) => r > 0 && r < totalSteps);
    this.entrants.push({ index, rungs, totalSteps, group: this.rule.group(index), results: new Map(), ended: false, waitingAt: null });
    return rungs[0] ?? totalSteps;
  }

  rungsOf(index: number): readonly number[] {
    return this.entry(index).rungs;
  }

  /**
   * A model reached a rung (it has trained `step` steps; its horizon) with this metric value. Returns every decision
   * that became possible — its own and those of later models that were waiting for it — in the fixed order.
   */
  report(index: number, step: number, value: number): RungDecision[] {
    const e = this.entry(index);
    if (e.ended) throw new Error(`early stopping: model ${index} has ended; it cannot report rung ${step}`);
    if (!e.rungs.includes(step)) throw new RangeError(`early stopping: model ${index} has no rung at step ${step} (rungs: ${e.rungs.join(', ') || 'none'})`);
    if (e.results.has(step)) throw new Error(`early stopping: model ${index} reported rung ${step} twice`);
    if (e.waitingAt !== null) throw new Error(`early stopping: model ${index} reported rung ${step} while still waiting at rung ${e.waitingAt}`);
    e.results.set(step, this.mode === 'min' ? value : -value);
    e.waitingAt = step;
    return this.settle();
  }

  /**
   * A resumed model's result at a rung it had already passed (it trained beyond it in the run being resumed, which
   * it does only once promoted there): recorded for the models judged after it, and not waited at. Decisions are
   * deterministic, so the promotion it got then is the one it would get now; but its predecessors may not be replayed
   * in the state they were in then (one that diverged restarts), so that decision is not taken again.
   */
  passed(index: number, step: number, value: number): RungDecision[] {
    const e = this.entry(index);
    if (!e.rungs.includes(step)) throw new RangeError(`early stopping: model ${index} has no rung at step ${step} (rungs: ${e.rungs.join(', ') || 'none'})`);
    if (e.results.has(step)) throw new Error(`early stopping: model ${index} reported rung ${step} twice`);
    e.results.set(step, this.mode === 'min' ? value : -value);
    return this.settle();
  }

  /** A model ended without reaching its next rung (finished, failed, diverged, stopped by hand): nobody waits for it. */
  end(index: number): RungDecision[] {
    const e = this.entry(index);
    if (e.ended) return [];
    e.ended = true;
    e.waitingAt = null;
    return this.settle();
  }

  /** The models waiting for a decision and the rung each waits at. */
  waiting(): { model: number; step: number }[] {
    return this.entrants.filter((e) => e.waitingAt !== null).map((e) => ({ model: e.index, step: e.waitingAt! }));
  }

  /** Decide every waiting model whose predecessors are all settled for its rung, until nothing changes. */
  private settle(): RungDecision[] {
    const out: RungDecision[] = [];
    for (let changed = true; changed; ) {
      changed = false;
      for (const e of this.entrants) {
        const step = e.waitingAt;
        if (step === null || !this.ready(e, step)) continue;
        const peers = this.entrants.filter((p) => p.index < e.index && p.group === e.group && p.results.has(step));
        const d = this.rule.decide(e, step, peers);
        e.waitingAt = null;
        if (d.stop) {
          e.ended = true;
          const reason: StopReason = {
            rule: this.rule.name, rung: e.rungs.indexOf(step), step, metric: this.metric,
            value: this.external(d.value), threshold: this.external(d.threshold),
          };
          out.push({ model: e.index, step, action: 'stop', horizon: step, reason });
        } else {
          out.push({ model: e.index, step, action: 'continue', horizon: e.rungs.find((r) => r > step) ?? e.totalSteps });
        }
        changed = true;
      }
    }
    return out.sort((a, b) => a.model - b.model);
  }

  /** Every earlier model of the group has recorded this rung, or will never reach it. */
  private ready(e: Entrant, step: number): boolean {
    for (const p of this.entrants) {
      if (p.index >= e.index) break;
      if (p.group !== e.group || p.results.has(step) || p.ended || !p.rungs.includes(step)) continue;
      return false;
    }
    return true;
  }

  private external(v: number): number {
    return this.mode === 'min' ? v : -v;
  }

  private entry(index: number): Entrant {
    const e = this.entrants[index];
    if (!e) throw new RangeError(`early stopping: unknown model ${index}`);
    return e;
  }
}

/** A result as a sort key: NaN (a failed evaluation) ranks below everything. */
export function orderKey(v: number): number {
  return Number.isNaN(v) ? Infinity : v;
}
