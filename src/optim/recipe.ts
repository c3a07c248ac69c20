/** Everything that decides a model's training arithmetic apart from its data and weights. */
import type { OptimizerConfig } from './optimizer.js';
import type { LrSchedule } from './schedule.js';
import { lrAt } from './schedule.js';

export interface TrainRecipe {
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  /** Global-norm clipping threshold; 0 disables clipping. */
  clipNorm: number;
  /** Total optimizer steps of the run (for the schedule's decay). */
  totalSteps: number;
  /** Seed of every random draw (init, dropout, data order). */
  seed: number;
}

export function recipeLr(r: TrainRecipe, step: number): number {
  return lrAt(r.optimizer.lr, r.schedule, step, r.totalSteps);
}
