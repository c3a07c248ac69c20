/** Learning-rate schedules: linear warmup, then constant, linear or cosine decay to a floor. */

export interface LrSchedule {
  /** Steps of linear warmup from 0 to the base rate. */
  warmupSteps: number;
  decay: 'constant' | 'linear' | 'cosine';
  /** Floor as a fraction of the base rate at the end of training. */
  minRatio: number;
}

export const CONSTANT_LR: LrSchedule = { warmupSteps: 0, decay: 'constant', minRatio: 0 };

/** Rate for 0-based `step` out of `totalSteps`. */
export function lrAt(baseLr: number, s: LrSchedule, step: number, totalSteps: number): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (baseLr * (step + 1)) / s.warmupSteps;
  if (s.decay === 'constant') return baseLr;
  const span = Math.max(1, totalSteps - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  const floor = baseLr * s.minRatio;
  if (s.decay === 'linear') return floor + (baseLr - floor) * (1 - progress);
  return floor + (baseLr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export function validateSchedule(s: LrSchedule, where = 'schedule'): LrSchedule {
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new RangeError(`${where}.warmupSteps must be an integer >= 0, got ${s.warmupSteps}`);
  if (!['constant', 'linear', 'cosine'].includes(s.decay)) throw new RangeError(`${where}.decay must be constant, linear or cosine, got '${s.decay}'`);
  if (!(s.minRatio >= 0 && s.minRatio <= 1)) throw new RangeError(`${where}.minRatio must be in [0, 1], got ${s.minRatio}`);
  return s;
}
