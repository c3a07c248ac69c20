/**
 * Gradient check of one Layer against central finite differences, in double precision (the js backend storing
 * floats as float64), with dropout on: counter-based masks are a pure function of (seed, step, layer), so the
 * objective sum(forward(x) · R) is smooth in inputs and parameters and finite differences are exact up to O(eps²).
 * Exported so that a user writing a Layer of their own can test its backward the way the zoo's layers are tested.
 */
import { JsBackend } from '../backend/js.js';
import type { DeviceBuffer } from '../backend/backend.js';
import { numel, type Layer, type ParamSpec, type RunContext } from './layer.js';

export interface GradCheckOptions {
  /** Specs of (at least) every parameter the layer uses, e.g. the model's `params`. */
  params: ParamSpec[];
  B: number;
  T: number;
  /** Elements of the layer's input (f32 layers): the previous layer's outputLength(B, T). */
  inputLength?: number;
  /** Token ids are drawn below this (i32-input layers). Default 2. */
  vocab?: number;
  /** Finite-difference step (default 1e-5) and largest relative error accepted (default 2e-6). */
  eps?: number;
  tol?: number;
  /** Elements checked per tensor, sampled (default 10). */
  samples?: number;
  seed?: number;
}

export interface GradCheckResult {
  /** Elements compared. */
  checked: number;
  /** Largest relative error seen. */
  worst: number;
  /** One line per element beyond the tolerance ('dx[3]: analytic … vs numeric …'). Empty: the layer passes. */
  failures: string[];
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function sample(n: number, k: number, rnd: () => number): number[] {
  if (n <= k) return [...Array(n).keys()];
  return Array.from({ length: k }, () => Math.floor(rnd() * n));
}

/** Checks the input gradient (f32 inputs) and every used parameter's gradient of `layer`. */
export function gradCheckLayer(layer: Layer, o: GradCheckOptions): GradCheckResult {
  const { B, T } = o;
  const eps = o.eps ?? 1e-5, tol = o.tol ?? 2e-6, k = o.samples ?? 10;
  const rnd = lcg(o.seed ?? 7);
  const be = new JsBackend({ float64: true });
  const specs = new Map(o.params.map((p) => [p.name, p]));
  const values = new Map<string, DeviceBuffer>(), grads = new Map<string, DeviceBuffer>();
  for (const name of layer.uses) {
    const spec = specs.get(name);
    if (!spec) throw new RangeError(`gradCheckLayer: layer '${layer.name}' uses parameter '${name}', which is not in options.params`);
    const n = numel(spec.shape);
    const v = be.alloc(n);
    const view = be.view(v);
    // Random, non-trivial values everywhere (gains around 1, everything else around 0).
    for (let i = 0; i < n; i++) view[i] = (spec.init.kind === 'ones' ? 1 : 0) + (rnd() - 0.5) * 0.6;
    values.set(name, v);
    grads.set(name, be.alloc(n));
  }
  const params = { value: (n: string) => values.get(n)!, grad: (n: string) => grads.get(n)! };
  const ctx = (keep: boolean): RunContext => ({ be, params, B, T, training: true, keepForBackward: keep, seed: 5, step: 3, saved: new Map() });

  let x: DeviceBuffer;
  if (layer.inputDType === 'i32') {
    x = be.alloc(B * T, 'i32');
    const v = be.view(x);
    for (let i = 0; i < B * T; i++) v[i] = Math.floor(rnd() * (o.vocab ?? 2));
  } else {
    if (!o.inputLength) throw new RangeError(`gradCheckLayer: layer '${layer.name}' takes f32 input: give options.inputLength`);
    x = be.alloc(o.inputLength);
    const v = be.view(x);
    for (let i = 0; i < o.inputLength; i++) v[i] = (rnd() - 0.5) * 2;
  }
  const outLen = layer.outputLength(B, T);
  const R = Float64Array.from({ length: outLen }, () => rnd() - 0.5);
  const objective = () => {
    const y = layer.forward(ctx(false), x);
    const v = be.view(y);
    let f = 0;
    for (let i = 0; i < outLen; i++) f += v[i] * R[i];
    be.free(y);
    return f;
  };

  // analytic
  for (const g of grads.values()) be.fill(g, 0);
  const c = ctx(true);
  const y = layer.forward(c, x);
  const dy = be.alloc(outLen);
  be.view(dy).set(R);
  const dx = layer.backward(c, x, dy);
  be.free(y);
  const result: GradCheckResult = { checked: 0, worst: 0, failures: [] };
  if (c.saved.size !== 0) result.failures.push(`backward left ${c.saved.size} saved forward state(s) unreleased`);

  const compare = (analytic: number, arr: Float64Array | Float32Array | Int32Array, i: number, what: string) => {
    const old = arr[i];
    arr[i] = old + eps;
    const fp = objective();
    arr[i] = old - eps;
    const fm = objective();
    arr[i] = old;
    const num = (fp - fm) / (2 * eps);
    const err = Math.abs(analytic - num) / Math.max(1e-3, Math.abs(analytic) + Math.abs(num));
    result.checked++;
    result.worst = Math.max(result.worst, err);
    if (!(err < tol)) result.failures.push(`${layer.name} ${what}: analytic ${analytic} vs numeric ${num} (relative error ${err.toExponential(2)})`);
  };
  if (dx) {
    const dxv = be.view(dx);
    for (const i of sample(dxv.length, k, rnd)) compare(dxv[i], be.view(x), i, `dx[${i}]`);
  }
  for (const name of layer.uses) {
    const gv = be.view(grads.get(name)!);
    const pv = be.view(values.get(name)!);
    for (const i of sample(pv.length, k, rnd)) compare(gv[i], pv, i, `d${name}[${i}]`);
  }
  be.dispose();
  return result;
}
