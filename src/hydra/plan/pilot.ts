/**
 * The pilot pass: run each layer alone on a real device with a real batch, reading the allocator's exact peak and
 * the time of its forward and backward. Layer by layer, so the pilot itself never needs more device memory than the
 * largest single layer.
 */
import type { Backend, DeviceBuffer } from '../../backend/backend.js';
import type { DeviceParams, RunContext } from '../../nn/layer.js';
import { initParamsInto } from '../../nn/init.js';
import { numel } from '../../nn/layer.js';
import type { Model } from '../../nn/model.js';

export interface LayerProfile {
  name: string;
  paramBytes: number;
  /** Peak bytes above the layer's parameters+input during forward (keep) and backward, from the allocator. */
  forwardPeakBytes: number;
  backwardPeakBytes: number;
  forwardSeconds: number;
  backwardSeconds: number;
}

export async function pilotLayers(be: Backend, model: Model, tokens: Int32Array, B: number, T: number, seed: number, repeats = 1): Promise<LayerProfile[]> {
  const specs = new Map(model.params.map((p) => [p.name, p]));
  const profiles: LayerProfile[] = [];
  let x: DeviceBuffer = be.alloc(B * T, 'i32');
  await be.upload(x, tokens);
  for (const layer of model.layers) {
    const values = new Map<string, DeviceBuffer>(), grads = new Map<string, DeviceBuffer>();
    let paramBytes = 0;
    for (const name of layer.uses) {
      const spec = specs.get(name)!;
      const v = be.alloc(numel(spec.shape));
      const init = new Float32Array(numel(spec.shape));
      await initParamsInto([spec], seed, () => init);
      await be.upload(v, init);
      const g = be.alloc(numel(spec.shape));
      be.fill(g, 0);
      values.set(name, v);
      grads.set(name, g);
      paramBytes += v.bytes;
    }
    const params: DeviceParams = { value: (n) => values.get(n)!, grad: (n) => grads.get(n)! };
    let fwdS = Infinity, bwdS = Infinity, fwdPeak = 0, bwdPeak = 0;
    let next: DeviceBuffer | null = null;
    for (let r = 0; r < repeats; r++) {
      const ctx: RunContext = { be, params, B, T, training: true, keepForBackward: true, seed, step: 0, saved: new Map() };
      await be.sync();
      const base = be.stats().inUse;
      be.resetHighWater();
      let t0 = performance.now();
      const y = layer.forward(ctx, x);
      await be.sync();
      fwdS = Math.min(fwdS, (performance.now() - t0) / 1000);
      fwdPeak = be.stats().highWater - base;
      // A gradient of the output's size stands in for dy (its values do not change the cost).
      const dy = be.alloc(y.length);
      be.fill(dy, 1e-3);
      const base2 = be.stats().inUse;
      be.resetHighWater();
      t0 = performance.now();
      const dx = layer.backward(ctx, x, dy);
      await be.sync();
      bwdS = Math.min(bwdS, (performance.now() - t0) / 1000);
      bwdPeak = be.stats().highWater - base2;
      be.free(dy);
      if (dx) be.free(dx);
      if (next) be.free(next);
      next = y;
    }
    profiles.push({ name: layer.name, paramBytes, forwardPeakBytes: fwdPeak, backwardPeakBytes: bwdPeak, forwardSeconds: fwdS, backwardSeconds: bwdS });
    for (const b of [...values.values(), ...grads.values()]) be.free(b);
    be.free(x);
    x = next!;
  }
  be.free(x);
  return profiles;
}
