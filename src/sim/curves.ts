/**
 * Synthetic learning curves for simulating early stopping: a model's held-out loss as a pure function of its
 * hyper-parameters and the steps trained. Shaped like fine-tuning curves: a power-law fall towards a floor, faster
 * with a larger learning rate and batch, with a floor that rises when the learning rate is far from a sweet spot.
 */
import { PAPER_BATCHES, PAPER_LRS } from './presets.js';

export function fineTuneCurve(lr: number, B: number, step: number): number {
  const floor = 2.9 + 0.25 * (Math.log10(lr) + 4) ** 2 + (B < 16 ? 0.02 : 0);
  const rate = 10 * lr * B;
  return floor + 2 / Math.sqrt(1 + rate * step);
}

/** The curves of `paperGrid(devices, steps, seeds)`'s models, by model index (its order: seed, batch, lr). */
export function paperGridCurves(): (model: number, step: number) => number {
  const per = PAPER_BATCHES.length * PAPER_LRS.length;
  return (model, step) => {
    const i = model % per;
    return fineTuneCurve(PAPER_LRS[i % PAPER_LRS.length], PAPER_BATCHES[Math.floor(i / PAPER_LRS.length)], step);
  };
}
