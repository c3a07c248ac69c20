/**
 * Where a shard's disk-resident parameters sit inside a host staging slot while the shard's task runs: the values of
 * its disk parameters one after another (canonical order), then their gradients. The orchestrator and every device
 * worker derive the same layout from the same runtime and the same set of disk parameters, so only a slot number
 * crosses threads.
 */
import type { ModelRuntime } from '../run/model-runtime.js';

/** Offsets in elements. */
export type StagingLayout = Map<string, { shard: number; value: number; grad: number; n: number }>;

export function stagingLayout(rt: ModelRuntime, diskParams: Set<string>): StagingLayout {
  const out: StagingLayout = new Map();
  rt.shardParams.forEach((ps, k) => {
    const mine = ps.filter((p) => diskParams.has(p.spec.name));
    for (const p of mine) if (p.shards.length !== 1) throw new Error(`parameter '${p.spec.name}' is used by shards ${p.shards.join(', ')}: only a one-shard parameter can live on disk`);
    const total = mine.reduce((a, p) => a + p.n, 0);
    let at = 0;
    for (const p of mine) {
      out.set(p.spec.name, { shard: k, value: at, grad: total + at, n: p.n });
      at += p.n;
    }
  });
  return out;
}
