/**
 * Early stopping inside a job: the tensor-free EarlyStopper (src/hydra/scheduler/early-stopping/) fed with each
 * model's held-out loss at its rungs. The job evaluates every model on the same held-out blocks after each rung's
 * last step; the scheduler holds the model there until a decision moves its horizon on or stops it.
 *
 * Steps here are global (steps trained since step 0); a resumed model's scheduler counts from its resume step, so
 * the job converts with the model's start step. On resume the rung results kept in each checkpoint's evaluations
 * are replayed, which re-creates every earlier decision (they depend on nothing else) and who waits where.
 */
import type { TrainTask } from '../api.js';
import { createEarlyStopper, type EarlyStopper, type EarlyStoppingConfig, type RungDecision } from '../scheduler/early-stopping/index.js';

export class JobEarlyStopping {
  private readonly stopper: EarlyStopper;
  private readonly rungs: number[][] = [];

  private constructor(stopper: EarlyStopper) {
    this.stopper = stopper;
  }

  /** null for `kind: none`. Every task must have held-out data: rungs judge the held-out loss. */
  static create(config: EarlyStoppingConfig | undefined, tasks: readonly TrainTask[]): JobEarlyStopping | null {
    const stopper = createEarlyStopper(config ?? { kind: 'none' });
    if (!stopper) return null;
    for (const t of tasks) JobEarlyStopping.check(t);
    return new JobEarlyStopping(stopper);
  }

  static check(t: TrainTask): void {
    if (!t.eval || t.eval.stepsPerEpoch === 0) {
      throw new RangeError(`earlyStopping: model '${t.name}' has no held-out data (task.eval; data.eval in a config): rungs are judged on the held-out loss`);
    }
  }

  /** Register the next model of the job (the fixed order). Returns its rung steps (global). */
  add(index: number, totalSteps: number): readonly number[] {
    this.stopper.add(index, totalSteps);
    this.rungs[index] = [...this.stopper.rungsOf(index)];
    return this.rungs[index];
  }

  /** Evaluations to run for early stopping: after the last step before each rung (step indices, global). */
  evalSteps(index: number): number[] {
    return this.rungs[index].map((r) => r - 1);
  }

  isRung(index: number, step: number): boolean {
    return this.rungs[index].includes(step);
  }

  /** The model's first horizon: its first rung, or its end. */
  firstHorizon(index: number, totalSteps: number): number {
    return this.rungs[index][0] ?? totalSteps;
  }

  /**
   * Replay a resumed job's recorded rung results (model index, step, loss; `passed`: the model trained beyond that
   * rung, so it was promoted there), after every model was added. Returns the decisions they imply, to apply before
   * anything runs.
   */
  replay(results: { index: number; step: number; loss: number; passed: boolean }[]): RungDecision[] {
    const out: RungDecision[] = [];
    for (const r of results) out.push(...(r.passed ? this.stopper.passed(r.index, r.step, r.loss) : this.stopper.report(r.index, r.step, r.loss)));
    return out;
  }

  /** Where a model resumed at `startStep` must next be judged: its first rung not yet passed, or its end. */
  horizonFrom(index: number, startStep: number, totalSteps: number): number {
    return this.rungs[index].find((r) => r >= startStep) ?? totalSteps;
  }

  /** A model's held-out loss after `step` steps (a rung): the decisions now possible. */
  atRung(index: number, step: number, loss: number): RungDecision[] {
    return this.stopper.report(index, step, loss);
  }

  /** A model ended by itself (finished, diverged, failed, stopped by name): the decisions that waited for it. */
  ended(index: number): RungDecision[] {
    return this.stopper.end(index);
  }
}
