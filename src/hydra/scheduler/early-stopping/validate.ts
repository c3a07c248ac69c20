/**
 * Checking an `early_stopping` setting (config file or API) and filling its defaults. One checker for both: the
 * config parser passes its own `fail` so the error is a ConfigError with the field's path.
 */
import {
  EARLY_STOPPING_KINDS, EARLY_STOPPING_METRICS, EARLY_STOPPING_MODES, type EarlyStoppingConfig,
} from './types.js';

/** Throws the caller's error for the field at `path` with this detail (e.g. "expected …, got …"). */
export type Fail = (path: string, detail: string) => never;

const rangeFail: Fail = (path, detail) => {
  throw new RangeError(`${path}: ${detail}`);
};

const FIELDS = {
  none: ['kind'],
  asha: ['kind', 'metric', 'mode', 'grace_steps', 'reduction_factor', 'max_steps', 'brackets'],
  median: ['kind', 'metric', 'mode', 'grace_steps', 'interval_steps', 'min_samples'],
} as const;

export function validateEarlyStopping(raw: unknown, path = 'early_stopping', failWith: Fail = rangeFail): EarlyStoppingConfig {
  const fail = (at: string, accepted: string, got: unknown): never => failWith(at, `expected ${accepted}, got ${show(got)}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(path, `a mapping such as { kind: asha, grace_steps: 4 } (kind: ${EARLY_STOPPING_KINDS.join(' | ')})`, raw);
  const o = raw as Record<string, unknown>;
  const kind = o.kind;
  if (!EARLY_STOPPING_KINDS.includes(kind as never)) fail(`${path}.kind`, `one of ${EARLY_STOPPING_KINDS.join(', ')}`, kind);
  const k = kind as (typeof EARLY_STOPPING_KINDS)[number];
  for (const key of Object.keys(o)) {
    if (!(FIELDS[k] as readonly string[]).includes(key)) failWith(`${path}.${key}`, `unknown field (value ${show(o[key])}); accepted with kind ${k}: ${FIELDS[k].join(', ')}`);
  }
  if (k === 'none') return { kind: 'none' };
  const int = (key: string, min: number, dflt?: number): number => {
    const v = o[key] ?? dflt;
    if (v === undefined) fail(`${path}.${key}`, `an integer ≥ ${min} (required with kind ${k})`, v);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${path}.${key}`, `an integer ≥ ${min}`, v);
    return v as number;
  };
  const metric = o.metric ?? 'eval_loss';
  if (!EARLY_STOPPING_METRICS.includes(metric as never)) fail(`${path}.metric`, `one of ${EARLY_STOPPING_METRICS.join(', ')}`, metric);
  const mode = o.mode ?? 'min';
  if (!EARLY_STOPPING_MODES.includes(mode as never)) fail(`${path}.mode`, `one of ${EARLY_STOPPING_MODES.join(', ')}`, mode);
  const common = { metric: metric as 'eval_loss', mode: mode as 'min' | 'max', grace_steps: int('grace_steps', 1) };
  if (k === 'median') {
    return { kind: 'median', ...common, interval_steps: int('interval_steps', 1, common.grace_steps), min_samples: int('min_samples', 1, 3) };
  }
  const out = { kind: 'asha' as const, ...common, reduction_factor: int('reduction_factor', 2, 4), brackets: int('brackets', 1, 1) };
  if (o.max_steps === undefined) return out;
  const max = int('max_steps', 1);
  if (max <= common.grace_steps) fail(`${path}.max_steps`, `an integer > grace_steps (${common.grace_steps}): rungs lie below max_steps`, max);
  return { ...out, max_steps: max };
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}
