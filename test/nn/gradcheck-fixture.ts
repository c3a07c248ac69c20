/**
 * The float64 fixture the finite-difference tests share: a model on the js backend with float64 storage, every
 * parameter set to small random values (gains around 1, the rest around 0), and random inputs for any layer.
 */
import { JsBackend } from '../../src/backend/js.js';
import type { DeviceBuffer } from '../../src/backend/backend.js';
import { numel, type Layer, type RunContext } from '../../src/nn/layer.js';
import type { Model } from '../../src/nn/model.js';
import type { LmHead } from '../../src/nn/lm-head.js';
import { lossTargets } from '../../src/nn/loss.js';

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export interface Setup {
  be: JsBackend;
  model: Model;
  values: Map<string, DeviceBuffer>;
  grads: Map<string, DeviceBuffer>;
  ctx(keep: boolean): RunContext;
}

export function float64Setup(model: Model, B: number, T: number): Setup {
  const be = new JsBackend({ float64: true });
  const rnd = lcg(7);
  const values = new Map<string, DeviceBuffer>(), grads = new Map<string, DeviceBuffer>();
  for (const p of model.params) {
    const n = numel(p.shape);
    const v = be.alloc(n), g = be.alloc(n);
    const view = be.view(v);
    // Random, non-trivial values everywhere (norm gains around 1, everything else around 0).
    for (let i = 0; i < n; i++) view[i] = (p.init.kind === 'ones' ? 1 : 0) + (rnd() - 0.5) * 0.6;
    values.set(p.name, v);
    grads.set(p.name, g);
  }
  const params = { value: (n: string) => values.get(n)!, grad: (n: string) => grads.get(n)! };
  return { be, model, values, grads, ctx: (keep) => ({ be, params, B, T, training: true, keepForBackward: keep, seed: 5, step: 3, saved: new Map() }) };
}

/** Token ids below `vocab` for a layer that takes them, else B·T·width floats in [-1, 1). */
export function randomInput(s: Setup, layer: Layer, seed: number, B: number, T: number, vocab: number, width: number): DeviceBuffer {
  const rnd = lcg(seed);
  if (layer.inputDType === 'i32') {
    const x = s.be.alloc(B * T, 'i32');
    const v = s.be.view(x);
    for (let i = 0; i < B * T; i++) v[i] = Math.floor(rnd() * vocab);
    return x;
  }
  const n = B * T * width;
  const x = s.be.alloc(n);
  const v = s.be.view(x);
  for (let i = 0; i < n; i++) v[i] = (rnd() - 0.5) * 2;
  return x;
}

/**
 * The fused LM head + loss as a function of its input and weight: `objective` is the mean cross-entropy (what the
 * head's gradients are gradients of), `train` zeroes the gradients, runs the training forward and backward, and
 * returns dx (the weight's gradient lands in s.grads).
 */
export function headPasses(s: Setup, head: LmHead, x: DeviceBuffer, hostTargets: Int32Array): { objective: () => number; train: () => DeviceBuffer } {
  const targets = s.be.alloc(hostTargets.length, 'i32');
  s.be.view(targets).set(hostTargets);
  const loss = lossTargets(targets, hostTargets);
  return {
    objective: () => {
      const y = head.forward({ ...s.ctx(false), loss }, x);
      const v = s.be.view(y);
      let f = 0;
      for (let i = 0; i < hostTargets.length; i++) if (hostTargets[i] >= 0) f += v[i];
      s.be.free(y);
      return f * loss.scale;
    },
    train: () => {
      for (const g of s.grads.values()) s.be.fill(g, 0);
      const ctx = { ...s.ctx(true), loss };
      const y = head.forward(ctx, x);
      const dx = head.backward(ctx, x, y);
      s.be.free(y);
      if (ctx.saved.size !== 0) throw new Error('the head left saved state after backward');
      return dx;
    },
  };
}
