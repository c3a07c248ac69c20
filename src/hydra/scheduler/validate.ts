/** Checks of the scheduler's inputs: a bad spec fails before scheduling with a message naming the field. */
import type { ModelSpec, ShardCost } from './types.js';

function fail(path: string, what: string, got: unknown): never {
  throw new RangeError(`${path}: expected ${what}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`);
}

function nonNegative(v: unknown, path: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(path, 'a finite number ≥ 0', v);
}

function integerAtLeast(v: unknown, min: number, path: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(path, `an integer ≥ ${min}`, v);
}

export function validateShard(s: ShardCost, path: string): void {
  if (typeof s !== 'object' || s === null) fail(path, 'an object {F, FL, B, E, paramBytes}', s);
  for (const k of ['F', 'FL', 'B', 'E', 'paramBytes'] as const) nonNegative(s[k], `${path}.${k}`);
}

export function validateModels(models: readonly ModelSpec[]): void {
  // (Array.isArray on a readonly array would widen the elements to any, hence the unknown detour.)
  if (!Array.isArray(models as unknown) || models.length === 0) fail('models', 'a non-empty list of models', models);
  const ids = new Set<string>();
  models.forEach((m: ModelSpec, i: number) => validateModel(m, `models[${i}]`, ids));
}

/** One model's spec; `ids` holds the ids already taken (the new one is added). */
export function validateModel(m: ModelSpec, at: string, ids: Set<string>): void {
  {
    if (typeof m.id !== 'string' || m.id === '') fail(`${at}.id`, 'a non-empty string', m.id);
    if (ids.has(m.id)) fail(`${at}.id`, 'a unique model id', m.id);
    ids.add(m.id);
    if (!Array.isArray(m.shards as unknown) || m.shards.length === 0) fail(`${at}.shards`, 'a non-empty list of shard costs', m.shards);
    m.shards.forEach((s, k) => validateShard(s, `${at}.shards[${k}]`));
    integerAtLeast(m.minibatches, 1, `${at}.minibatches`);
    if (m.stepsPerEpoch !== undefined) integerAtLeast(m.stepsPerEpoch, 1, `${at}.stepsPerEpoch`);
    if (m.evalBatches !== undefined) integerAtLeast(m.evalBatches, 0, `${at}.evalBatches`);
    if (m.horizon !== undefined) {
      integerAtLeast(m.horizon, 0, `${at}.horizon`);
      if (m.horizon > m.minibatches) fail(`${at}.horizon`, `a step count ≤ minibatches (${m.minibatches})`, m.horizon);
    }
    if (m.evalAfter !== undefined) {
      if (!Array.isArray(m.evalAfter as unknown)) fail(`${at}.evalAfter`, 'a list of step indices', m.evalAfter);
      m.evalAfter.forEach((s, j) => {
        integerAtLeast(s, 0, `${at}.evalAfter[${j}]`);
        if (s >= m.minibatches) fail(`${at}.evalAfter[${j}]`, `a step index < minibatches (${m.minibatches})`, s);
      });
    }
  }
}

export function validateDeviceCount(n: unknown): void {
  integerAtLeast(n, 1, 'devices');
}
