/** Early stopping (ASHA, median rule): tensor-free decisions at rung boundaries, in a fixed order. */
export * from './types.js';
export { EarlyStopper } from './stopper.js';
export { validateEarlyStopping } from './validate.js';
import { EarlyStopper } from './stopper.js';
import { ashaRule, medianRule } from './rules.js';
import type { EarlyStoppingConfig } from './types.js';

/** The stopper of a config, or null for `kind: none` (every model trains to its end). */
export function createEarlyStopper(c: EarlyStoppingConfig): EarlyStopper | null {
  if (c.kind === 'none') return null;
  return new EarlyStopper(c.kind === 'asha' ? ashaRule(c) : medianRule(c), c.metric, c.mode);
}
