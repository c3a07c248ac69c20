/**
 * What a device needs to know about a model to run any of its shard tasks: the layer chain, the cut points, the
 * training recipe and, for every parameter, which shards use it. Derived once from (model, plan, recipe); a worker
 * builds the same model from the same ArchSpec and so the same runtime, so no per-task bookkeeping crosses threads.
 */
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
  model: Model;
  shards: ShardRange[];
  recipe: TrainRecipe;
  B: number;
  T: number;
  /** Elements of the activation entering shard k (the output of layer `from - 1`); 0 for shard 0, whose input is tokens. */
  boundaryLength: number[];
  params: ParamPlacement[];
  byName: Map<string, ParamPlacement>;
  /** Parameters used by each shard, canonical order. */
  shardParams: ParamPlacement[][];
}

export function buildRuntime(model: Model, shards: ShardRange[], recipe: TrainRecipe, B: number, T: number): ModelRuntime {
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
  const boundaryLength = shards.map((s) => (s.from === 0 ? 0 : model.layers[s.from - 1].outputLength(B, T)));
  return { model, shards, recipe, B, T, boundaryLength, params, byName, shardParams };
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
