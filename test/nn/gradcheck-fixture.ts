/**
 * The float64 fixture the finite-difference tests share: a model on the js backend with float64 storage, every
 * parameter set to small random values (gains around 1, the rest around 0), and random inputs for any layer.
 */
import { JsBackend } from '../../src/backend/js.js';
import type { DeviceBuffer } from '../../src/backend/backend.js';
import { numel, type Layer, type RunContext } from '../../src/nn/layer.js';
import type { Model } from '../../src/nn/model.js';

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
