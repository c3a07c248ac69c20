/**
 * A fresh model's initial values, shard by shard, so that its first task need not wait for the whole model: each
 * parameter is initialised once, with the first shard that uses it (a tied embedding with shard 0), off the
 * JavaScript thread when the cpu addon is there (nn/init.ts). Values do not depend on the order: each element is a
 * function of the seed, the parameter's name and its index alone, so the model is bitwise the one initialised whole.
 * Only models whose state is all in RAM start this way; a model with a disk part is initialised whole before it
 * trains (its disk values go through the staging slots its tasks use).
 */
import { initParamsInto } from '../../nn/init.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import type { HostViews } from '../tier/host-state.js';

/**
 * One promise per shard, resolved when every parameter the shard uses holds its initial value (shard k after every
 * shard before it). `done` hears the engine once every shard is initialised.
 */
export function initByShard(rt: ModelRuntime, views: HostViews, seed: number, done: (engine: 'native' | 'js') => void): Promise<void>[] {
  const seen = new Set<string>();
  const groups = rt.shardParams.map((params) => params.map((p) => p.spec).filter((s) => !seen.has(s.name) && seen.add(s.name)));
  // Parameters no layer uses still get their initial value, with the last shard.
  groups[groups.length - 1].push(...rt.params.map((p) => p.spec).filter((s) => !seen.has(s.name)));
  let chain: Promise<'native' | 'js'> = Promise.resolve('js');
  const out = groups.map((specs) => {
    if (specs.length > 0) chain = chain.then(() => initParamsInto(specs, seed, (spec) => views.param(spec.name)));
    return chain.then(() => undefined);
  });
  chain.then(done, () => undefined);
  return out;
}
