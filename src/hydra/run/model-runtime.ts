/**
 * What a device needs to know about a model to run any of its shard tasks: the layer chain, the cut points, the
 * training recipe and, for every parameter, which shards use it. Derived once from (config, plan, recipe); a worker
 * builds the same runtime from the same inputs, so no per-task bookkeeping crosses threads.
 */
import { buildGpt2 } from '../../nn/gpt2.js';
import type { Gpt2Config } from '../../nn/gpt2-config.js';
import { numel, type ParamSpec } from '../../nn/layer.js';
import type { Model } from '../../nn/model.js';
import type { TrainRecipe } from '../../optim/recipe.js';

export interface ShardRange {
  from: number;
  to: number;
}

export interface ParamPlacement {
  spec: ParamSpec;
  /** Canonical index (global-norm order). */
  index: number;
  n: number;
  /** Shards whose layers use the parameter, ascending. */
  shards: number[];
}

export interface ModelRuntime {
  config: Gpt2Config;
  model: Model;
  shards: ShardRange[];
  recipe: TrainRecipe;
  B: number;
  T: number;
  /** Elements of a boundary activation (B*T*C). */
  boundaryLength: number;
  params: ParamPlacement[];
  byName: Map<string, ParamPlacement>;
  /** Parameters used by each shard, canonical order. */
  shardParams: ParamPlacement[][];
}

export function buildRuntime(config: Gpt2Config, shards: ShardRange[], recipe: TrainRecipe, B: number, T: number): ModelRuntime {
  const model = buildGpt2(config);
  checkShards(shards, model.layers.length);
  const shardOfLayer = new Array<number>(model.layers.length);
  shards.forEach((s, k) => {
    for (let i = s.from; i < s.to; i++) shardOfLayer[i] = k;
  });
  const params: ParamPlacement[] = model.params.map((spec, index) => ({ spec, index, n: numel(spec.shape), shards: [] }));
  const byName = new Map(params.map((p) => [p.spec.name, p]));
  model.layers.forEach((layer, i) => {
    for (const u of layer.uses) {
      const p = byName.get(u)!;
      const k = shardOfLayer[i];
      if (!p.shards.includes(k)) p.shards.push(k);
    }
  });
  for (const p of params) p.shards.sort((a, b) => a - b);
  const shardParams = shards.map((_, k) => params.filter((p) => p.shards.includes(k)));
  return { config, model, shards, recipe, B, T, boundaryLength: B * T * config.n_embd, params, byName, shardParams };
}

function checkShards(shards: ShardRange[], nLayers: number): void {
  let expect = 0;
  for (const s of shards) {
    if (s.from !== expect || s.to <= s.from) throw new RangeError(`invalid shard cut [${s.from}, ${s.to}) (expected a shard starting at layer ${expect})`);
    expect = s.to;
  }
  if (expect !== nLayers) throw new RangeError(`shards cover ${expect} of ${nLayers} layers`);
}

/** In backward order (last shard first), the first shard to touch a parameter's gradient starts it from zero. */
export function gradStartsHere(p: ParamPlacement, shard: number): boolean {
  return p.shards[p.shards.length - 1] === shard;
}

/** The gradient is final after the lowest shard that uses the parameter. */
export function gradFinalHere(p: ParamPlacement, shard: number): boolean {
  return p.shards[0] === shard;
}
