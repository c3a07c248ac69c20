/**
 * The pilot pass: run each layer alone on a real device with a real batch, reading the allocator's exact peak and
 * the time of its forward and backward. Layer by layer, so the pilot itself never needs more device memory than the
 * largest single layer. Layers with the same shapeKey (GPT-2's identical blocks) are measured once: the first is
 * run, the others reuse its profile, so the pilot costs what is distinct in the model, not its depth.
 */
import type { Backend, DeviceBuffer } from '../../backend/backend.js';
import type { DeviceParams, Layer, RunContext } from '../../nn/layer.js';
import { numel } from '../../nn/layer.js';
import type { Model } from '../../nn/model.js';
import { lossTargets } from '../../nn/loss.js';

export interface LayerProfile {
  name: string;
  /** The layer's shapeKey when measurements were shared: equal keys, equal costs (the partitioner reuses dry runs). */
  shape?: string;
  paramBytes: number;
  /** Peak bytes above the layer's parameters+input during forward (keep) and backward, from the allocator. */
  forwardPeakBytes: number;
  backwardPeakBytes: number;
  /** The loss head (the last layer) takes its gradients in forward: its forward time is its whole training cost. */
  forwardSeconds: number;
  backwardSeconds: number;
}

export interface PilotOptions {
  /** Runs per layer; the fastest counts (default 1). */
  repeats?: number;
  /** Measure a layer whose shapeKey was already measured once only (default true; false measures every layer). */
  reuse?: boolean;
  /** Called before each layer that is measured. */
  onLayer?: (layer: Layer, index: number) => void;
  /**
   * Seconds now (default: the wall clock). The simulator's profiles run the pilot on the accounting backend with a
   * clock that advances by the FLOPs the kernels were asked for (src/sim/model-profile.ts).
   */
  clock?: () => number;
}

export async function pilotLayers(be: Backend, model: Model, tokens: Int32Array, B: number, T: number, seed: number, options: PilotOptions = {}): Promise<LayerProfile[]> {
  const { repeats = 1, reuse = true, clock = () => performance.now() / 1000 } = options;
  const specs = new Map(model.params.map((p) => [p.name, p]));
  const profiles: LayerProfile[] = [];
  const measured = new Map<string, LayerProfile>();
  let x: DeviceBuffer = be.alloc(B * T, 'i32');
  await be.upload(x, tokens);
  // The loss head's targets: the tokens serve (valid ids; the values do not change the cost).
  const targets = be.alloc(B * T, 'i32');
  await be.upload(targets, tokens);
  const loss = lossTargets(targets, tokens);
  // A parameter used by several measured layers (GPT-2's tied embedding: the embedding and the head) is allocated
  // and filled once and freed after its last measured user: a 50 M-element table costs one fill, not two. Peaks are
  // measured above what is already allocated, so this does not change them.
  const measuredIdx = model.layers.map((_, k) => k).filter((k) => {
    const shape = reuse ? model.layers[k].shapeKey : undefined;
    return shape === undefined || model.layers.findIndex((m) => m.shapeKey === shape) === k;
  });
  const lastUse = new Map<string, number>();
  for (const k of measuredIdx) for (const name of model.layers[k].uses) lastUse.set(name, k);
  const values = new Map<string, DeviceBuffer>(), grads = new Map<string, DeviceBuffer>();
  for (const [index, layer] of model.layers.entries()) {
    const shape = reuse ? layer.shapeKey : undefined;
    const same = shape === undefined ? undefined : measured.get(shape);
    // The current input stands in for the skipped layer's output when it has the output's size (a block's does).
    if (same && x.dtype === 'f32' && x.length === layer.outputLength(B, T)) {
      profiles.push({ ...same, name: layer.name });
      continue;
    }
    options.onLayer?.(layer, index);
    let paramBytes = 0;
    for (const name of layer.uses) {
      const spec = specs.get(name)!;
      const kept = values.get(name);
      if (kept) {
        paramBytes += be.deviceBytes ? be.deviceBytes.of(kept.bytes) : kept.bytes;
        continue;
      }
      const v = be.alloc(numel(spec.shape));
      // Costs and bytes do not depend on parameter values (no kernel branches on data), so a constant of the init's
      // scale serves: filled on the device, with no initialisation or copy of e.g. a 50 M-element embedding.
      be.fill(v, spec.init.kind === 'normal' ? spec.init.std : spec.init.kind === 'ones' ? 1 : 0);
      const g = be.alloc(numel(spec.shape));
      be.fill(g, 0);
      values.set(name, v);
      grads.set(name, g);
      paramBytes += be.deviceBytes ? be.deviceBytes.of(v.bytes) : v.bytes; // device bytes, as the partitioner counts them
    }
    const params: DeviceParams = { value: (n) => values.get(n)!, grad: (n) => grads.get(n)! };
    let fwdS = Infinity, bwdS = Infinity, fwdPeak = 0, bwdPeak = 0;
    let next: DeviceBuffer | null = null;
    for (let r = 0; r < repeats; r++) {
      const ctx: RunContext = { be, params, B, T, training: true, keepForBackward: true, seed, step: 0, saved: new Map(), loss };
      await be.sync();
      const base = be.stats().inUse;
      be.resetHighWater();
      let t0 = clock();
      const y = layer.forward(ctx, x);
      await be.sync();
      fwdS = Math.min(fwdS, clock() - t0);
      fwdPeak = be.stats().highWater - base;
      // A gradient of the output's size stands in for dy (its values do not change the cost).
      const dy = be.alloc(y.length);
      be.fill(dy, 1e-3);
      const base2 = be.stats().inUse;
      be.resetHighWater();
      t0 = clock();
      const dx = layer.backward(ctx, x, dy);
      await be.sync();
      bwdS = Math.min(bwdS, clock() - t0);
      bwdPeak = be.stats().highWater - base2;
      be.free(dy);
      if (dx) be.free(dx);
      if (next) be.free(next);
      next = y;
    }
    const profile: LayerProfile = { name: layer.name, paramBytes, forwardPeakBytes: fwdPeak, backwardPeakBytes: bwdPeak, forwardSeconds: fwdS, backwardSeconds: bwdS };
    if (shape !== undefined) {
      profile.shape = shape;
      measured.set(shape, profile);
    }
    profiles.push(profile);
    for (const name of layer.uses) {
      if ((lastUse.get(name) ?? index) > index) continue;
      be.free(values.get(name)!);
      be.free(grads.get(name)!);
      values.delete(name);
      grads.delete(name);
    }
    be.free(x);
    x = next!;
  }
  for (const b of [...values.values(), ...grads.values()]) be.free(b);
  be.free(x);
  be.free(targets);
  return profiles;
}
