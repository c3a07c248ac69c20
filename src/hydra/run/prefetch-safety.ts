/**
 * Prefetching copies a shard's parameter values before its task runs. That is only correct if no task of the same
 * model can change those values in between: the model's task in flight (at most one) must not step any parameter the
 * prefetched shard uses. Steps happen where gradients become final (the lowest shard using a parameter), or — with
 * global-norm clipping — all at once at the end of shard 0's backward, and nowhere else; so prefetching the next minibatch's first
 * shard while shard 0's backward runs would load stale weights. This check keeps prefetch exact.
 */
import { gradFinalHere, type ModelRuntime } from './model-runtime.js';
import type { TaskKind } from '../scheduler/types.js';

export interface TaskRef {
  kind: TaskKind;
  shard: number;
}

export function stepsParams(rt: ModelRuntime, t: TaskRef): Set<string> {
  const out = new Set<string>();
  if (t.kind !== 'FL' && t.kind !== 'B') return out;
  if (rt.recipe.clipNorm > 0) {
    // Every step waits for the global norm: shard 0's task steps them all, no other task steps any.
    if (t.shard === 0) for (const p of rt.params) out.add(p.spec.name);
    return out;
  }
  for (const p of rt.shardParams[t.shard]) if (gradFinalHere(p, t.shard)) out.add(p.spec.name);
  return out;
}

export function prefetchIsSafe(rt: ModelRuntime, inFlight: TaskRef | null, next: TaskRef): boolean {
  if (!inFlight) return true;
  const stepped = stepsParams(rt, inFlight);
  return !rt.shardParams[next.shard].some((p) => stepped.has(p.spec.name));
}
