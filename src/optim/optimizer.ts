/**
 * Optimizers as pure per-parameter updates: each parameter's state (AdamW m and v; SGD momentum) is its own named
 * tensor, so the state can live and move with the parameter (host tier, device, disk) and be checkpointed by name.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';

export interface AdamWConfig {
  kind: 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface SgdConfig {
  kind: 'sgd';
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

export const ADAMW_DEFAULTS: AdamWConfig = { kind: 'adamw', lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
export const SGD_DEFAULTS: SgdConfig = { kind: 'sgd', lr: 1e-2, momentum: 0.9, nesterov: false, weightDecay: 0 };

/** Names of the per-parameter state tensors (each shaped like the parameter). */
export function stateNames(cfg: OptimizerConfig): string[] {
  if (cfg.kind === 'adamw') return ['m', 'v'];
  return cfg.momentum !== 0 ? ['momentum'] : [];
}

export interface UpdateArgs {
  /** Learning rate for this step (after the schedule). */
  lr: number;
  /** 1-based optimizer step. */
  t: number;
  /** Global-norm clipping multiplier (1 when not clipping). */
  gradScale: number;
  /** Whether weight decay applies to this parameter. */
  decay: boolean;
}

/** Update one parameter in place on the device. `state` follows stateNames(cfg) order. Fresh state must be zeros. */
export function applyUpdate(be: Backend, cfg: OptimizerConfig, param: DeviceBuffer, grad: DeviceBuffer, state: DeviceBuffer[], n: number, a: UpdateArgs): void {
  const wd = a.decay ? cfg.weightDecay : 0;
  if (cfg.kind === 'adamw') {
    be.adamw(param, grad, state[0], state[1], n, { lr: a.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: wd, t: a.t, gradScale: a.gradScale });
  } else {
    be.sgd(param, grad, state[0] ?? null, n, { lr: a.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: wd, gradScale: a.gradScale });
  }
}

/**
 * The same update applied in place to host arrays (the host tier), when the backend can (cpu, js): no copies.
 * Returns false when it cannot; the caller then streams the arrays through device memory and uses applyUpdate.
 */
export function applyUpdateHost(be: Backend, cfg: OptimizerConfig, param: Float32Array, grad: Float32Array, state: Float32Array[], n: number, a: UpdateArgs): boolean {
  if (!be.adamwHost || !be.sgdHost) return false;
  const wd = a.decay ? cfg.weightDecay : 0;
  if (cfg.kind === 'adamw') {
    be.adamwHost(param, grad, state[0], state[1], n, { lr: a.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: wd, t: a.t, gradScale: a.gradScale });
  } else {
    be.sgdHost(param, grad, state[0] ?? null, n, { lr: a.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: wd, gradScale: a.gradScale });
  }
  return true;
}

export function validateOptimizer(cfg: OptimizerConfig, where = 'optimizer'): OptimizerConfig {
  const num = (k: string, v: unknown, ok: (x: number) => boolean, what: string) => {
    if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${where}.${k} must be ${what}, got ${String(v)}`);
  };
  if (cfg.kind !== 'adamw' && cfg.kind !== 'sgd') {
    throw new RangeError(`${where}.kind must be 'adamw' or 'sgd', got '${String((cfg as { kind: unknown }).kind)}'`);
  }
  num('lr', cfg.lr, (x) => x >= 0 && Number.isFinite(x), 'a finite number >= 0');
  num('weightDecay', cfg.weightDecay, (x) => x >= 0 && Number.isFinite(x), 'a finite number >= 0');
  if (cfg.kind === 'adamw') {
    num('beta1', cfg.beta1, (x) => x >= 0 && x < 1, 'in [0, 1)');
    num('beta2', cfg.beta2, (x) => x >= 0 && x < 1, 'in [0, 1)');
    num('eps', cfg.eps, (x) => x > 0, '> 0');
  } else {
    num('momentum', cfg.momentum, (x) => x >= 0 && x < 1, 'in [0, 1)');
  }
  return cfg;
}
