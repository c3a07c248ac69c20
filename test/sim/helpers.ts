/** Small workloads for simulator tests. */
import type { SimModel, Workload } from '../../src/sim/types.js';

export function simModel(id: string, n: number, minibatches: number, f = 1, paramBytes = 0, extra: Partial<SimModel> = {}): SimModel {
  return {
    id,
    shards: Array.from({ length: n }, () => ({ F: f, FL: 3 * f, B: 3 * f, E: f, paramBytes, peakBytes: paramBytes })),
    minibatches,
    ...extra,
  };
}

export function workload(models: SimModel[], speeds: number[], bandwidth = Infinity, memoryBytes = 2 ** 40): Workload {
  return { name: 'test', models, devices: speeds.map((speed) => ({ speed, memoryBytes })), bandwidth };
}

/** Total work of a model on a speed-1 device: minibatches × (Σ_{k<n-1} (F + B) + FL). */
export function work(m: SimModel): number {
  const n = m.shards.length;
  let step = m.shards[n - 1].FL;
  for (let k = 0; k < n - 1; k++) step += m.shards[k].F + m.shards[k].B;
  return m.minibatches * step;
}
