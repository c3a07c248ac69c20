/**
 * Early stopping: which models of a job stop before their last step. Pure decision logic — no tensors, no clocks —
 * shared by the job (real evaluations) and the simulator (synthetic curves).
 *
 * A model is judged only at its RUNGS (counts of completed training steps) on the metric taken there (the held-out
 * loss every model evaluates on the same blocks). Decisions are made in a FIXED ORDER, the models' order in the job:
 * a model's decision at a rung uses only the results of the models before it at that rung (and its own), and waits
 * until each of them has either reached that rung or ended. So the same job stops the same models at the same steps
 * whatever the devices, the policy and the interleaving; and a model added later never changes an earlier one's fate.
 */

export const EARLY_STOPPING_KINDS = ['none', 'asha', 'median'] as const;
export type EarlyStoppingKind = (typeof EARLY_STOPPING_KINDS)[number];
export const EARLY_STOPPING_METRICS = ['eval_loss'] as const;
export type EarlyStoppingMetric = (typeof EARLY_STOPPING_METRICS)[number];
export const EARLY_STOPPING_MODES = ['min', 'max'] as const;
export type EarlyStoppingMode = (typeof EARLY_STOPPING_MODES)[number];

/**
 * ASHA (Li et al. 2020, asynchronous successive halving). Bracket s has rungs at grace_steps·η^(s+k) steps (k ≥ 0)
 * below max_steps; model i plays in bracket i mod brackets. At a rung a model goes on iff it ranks in the top
 * ⌈n/η⌉ of the n results recorded there so far (its own included); otherwise it stops.
 */
export interface AshaConfig {
  kind: 'asha';
  metric: EarlyStoppingMetric;
  mode: EarlyStoppingMode;
  /** Steps before the first rung (the minimum resource r). */
  grace_steps: number;
  /** η ≥ 2: a rung keeps 1/η of its models. */
  reduction_factor: number;
  /** Rungs lie strictly below this many steps (default: each model's own number of steps). */
  max_steps?: number;
  /** Number of brackets (Hyperband's s; default 1 = plain ASHA). */
  brackets: number;
}

/**
 * Median stopping rule (Golovin et al. 2017, Google Vizier): at rungs grace_steps, grace_steps + interval_steps, …
 * a model stops if its best result so far is worse than the median of the running averages (mean of the results at
 * rungs up to this one) of the models before it that reached this rung, once at least min_samples of them did.
 */
export interface MedianConfig {
  kind: 'median';
  metric: EarlyStoppingMetric;
  mode: EarlyStoppingMode;
  grace_steps: number;
  /** Steps between rungs (default grace_steps). */
  interval_steps: number;
  /** Models needed at a rung before anyone can be stopped there (default 3). */
  min_samples: number;
}

export type EarlyStoppingConfig = { kind: 'none' } | AshaConfig | MedianConfig;

/** Why a model was stopped early: what its result was, where, and the bar it failed. */
export interface StopReason {
  rule: 'asha' | 'median';
  /** Rung index within the model's ladder (0 = first), and its step count. */
  rung: number;
  step: number;
  metric: EarlyStoppingMetric;
  /** The model's result at the rung (median: its best so far) and the threshold it had to meet. */
  value: number;
  threshold: number;
}

export interface RungDecision {
  /** The model's position in the job (the fixed order). */
  model: number;
  /** The rung's step count. */
  step: number;
  action: 'continue' | 'stop';
  /** After 'continue': the step count the model may now train to (its next rung, or its end). */
  horizon: number;
  reason?: StopReason;
}

export function describeStop(r: StopReason): string {
  const cmp = r.rule === 'asha' ? 'outside the top of its rung, cutoff' : 'worse than the median';
  return `stopped early by ${r.rule} at rung ${r.rung} (step ${r.step}): ${r.metric} ${fmt(r.value)} ${cmp} ${fmt(r.threshold)}`;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(5) : String(x);
}
