/**
 * Grid expansion: the cartesian product of the grid's value lists (first key outermost), each combination merged
 * with the hyper-parameters set outside the grid and resolved into a ModelSpec. Model names come from the keys that
 * take more than one value ('lr=3e-4,bs=8'); a grid of one combination is named after the job. Named models
 * (`grid.model`) are the outermost axis and lead the name ('gpt2-small,lr=3e-4').
 */
import type { Gpt2Config } from '../nn/gpt2-config.js';
import { joinPath } from './errors.js';
import { hparamSpec, type HKey, type HParams, type HValue } from './hparams.js';
import type { GridAxis, ModelVariant, TrainConfig } from './schema.js';
import { resolveModelSpec, type ModelSpec } from './variant.js';

export interface Variant {
  name: string;
  /** The grid's values for this model, by key (every grid key, varying or not). */
  hparams: Record<string, HValue>;
  spec: ModelSpec;
}

/** All combinations, first axis outermost: [[a0,b0],[a0,b1],[a1,b0],...] as index tuples. */
export function cartesian(lengths: number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of lengths) {
    const next: number[][] = [];
    for (const prefix of out) for (let i = 0; i < n; i++) next.push([...prefix, i]);
    out = next;
  }
  return out;
}

/** Numbers as people write them in configs: 0.0003 → '3e-4', 8 → '8', 0.01 → '0.01'. */
export function formatHValue(v: HValue): string {
  if (typeof v !== 'number') return String(v);
  const plain = String(v);
  const exp = v.toExponential().replace('e+', 'e');
  return exp.length < plain.length ? exp : plain;
}

export function variantName(axes: GridAxis[], indices: number[], jobName: string): string {
  const parts: string[] = [];
  axes.forEach((axis, a) => {
    if (axis.values.length > 1) parts.push(`${hparamSpec(axis.key).short}=${formatHValue(axis.values[indices[a]])}`);
  });
  return parts.length > 0 ? parts.join(',') : jobName;
}

export function gridSize(axes: GridAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

export function expandGrid(config: Pick<TrainConfig, 'name' | 'base' | 'grid' | 'models'>, initShape?: Gpt2Config): Variant[] {
  const combos = cartesian(config.grid.map((a) => a.values.length)).map((indices) => {
    const values: HParams = { ...config.base };
    const origin: Partial<Record<HKey, string>> = {};
    const hparams: Record<string, HValue> = {};
    config.grid.forEach((axis, a) => {
      values[axis.key] = axis.values[indices[a]];
      origin[axis.key] = joinPath(joinPath('grid', axis.key), indices[a]);
      hparams[axis.key] = axis.values[indices[a]];
    });
    return { indices, values, origin, hparams };
  });
  if (!config.models) {
    return combos.map((c) => ({ name: variantName(config.grid, c.indices, config.name), hparams: c.hparams, spec: resolveModelSpec(c.values, { origin: c.origin, initShape }) }));
  }
  return config.models.flatMap((m: ModelVariant) =>
    combos.map((c) => {
      const rest = variantName(config.grid, c.indices, '');
      return { name: rest ? `${m.name},${rest}` : m.name, hparams: { model: m.name, ...c.hparams }, spec: resolveModelSpec(c.values, { origin: c.origin, variant: m }) };
    }),
  );
}
