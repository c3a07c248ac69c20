/**
 * AdamW and SGD, elementwise. The js oracle computes each update in float64 and rounds once when storing, so the
 * parts where float32 would cancel — the moment updates β·m + (1-β)·g and SGD's whole chain — run in df64 here
 * (constants arrive as float64 (hi, lo) pairs); Adam's final ratio m̂ / (√v̂ + ε) is well conditioned and stays f32.
 */
import type { AdamWParams, SgdParams } from '../../backend.js';
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL, splitF64 } from '../wgsl-df64.js';

const WG = 256;
const pair = (name: string): [string, 'f32'][] => [[`${name}Hi`, 'f32'], [`${name}Lo`, 'f32']];
const df = (name: string) => `vec2<f32>(P.${name}Hi, P.${name}Lo)`;

const adamwDef: KernelDef = {
  name: 'adamw',
  buffers: [
    { name: 'param', type: 'f32', write: true }, { name: 'grad', type: 'f32' },
    { name: 'mom1', type: 'f32', write: true }, { name: 'mom2', type: 'f32', write: true },
  ],
  params: [['start', 'u32'], ['count', 'u32'], ...pair('beta1'), ...pair('c1'), ...pair('beta2'), ...pair('c2'),
    ...pair('invBc1'), ...pair('invBc2'), ['lr', 'f32'], ['eps', 'f32'], ['wd', 'f32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let g = grad[k - P.grad_base];
  // m = β1·m + (1-β1)·gradScale·g ; v = β2·v + (1-β2)·gradScale²·g²
  let m = df_add(df_mul_f(${df('beta1')}, mom1[k - P.mom1_base]), df_mul_f(${df('c1')}, g));
  let v = df_add(df_mul_f(${df('beta2')}, mom2[k - P.mom2_base]), df_mul(${df('c2')}, two_prod(g, g)));
  mom1[k - P.mom1_base] = df_round(m);
  mom2[k - P.mom2_base] = df_round(v);
  let mhat = df_round(df_mul(m, ${df('invBc1')}));
  let vhat = df_round(df_mul(v, ${df('invBc2')}));
  let p = param[k - P.param_base];
  param[k - P.param_base] = p - P.lr * (mhat / (sqrt(vhat) + P.eps) + P.wd * p);`,
};

export function adamw(ctx: KernelContext, param: GpuBuffer, grad: GpuBuffer, m: GpuBuffer, v: GpuBuffer, n: number, h: AdamWParams): void {
  const [beta1Hi, beta1Lo] = splitF64(h.beta1), [beta2Hi, beta2Lo] = splitF64(h.beta2);
  const [c1Hi, c1Lo] = splitF64((1 - h.beta1) * h.gradScale);
  const [c2Hi, c2Lo] = splitF64((1 - h.beta2) * h.gradScale * h.gradScale);
  const [invBc1Hi, invBc1Lo] = splitF64(1 / (1 - Math.pow(h.beta1, h.t)));
  const [invBc2Hi, invBc2Lo] = splitF64(1 / (1 - Math.pow(h.beta2, h.t)));
  const params = { beta1Hi, beta1Lo, beta2Hi, beta2Lo, c1Hi, c1Lo, c2Hi, c2Lo, invBc1Hi, invBc1Lo, invBc2Hi, invBc2Lo, lr: h.lr, eps: h.eps, wd: h.weightDecay };
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, adamwDef, { param: range(param, s, c), grad: range(grad, s, c), mom1: range(m, s, c), mom2: range(v, s, c) },
      { start: s, count: c, ...params }, Math.ceil(c / WG)),
  );
}

const sgdDefs = new Map<string, KernelDef>();
function sgdDef(momentum: boolean, nesterov: boolean): KernelDef {
  const key = `${momentum}/${nesterov}`;
  let def = sgdDefs.get(key);
  if (def) return def;
  const buffers: KernelDef['buffers'] = [{ name: 'param', type: 'f32', write: true }, { name: 'grad', type: 'f32' }];
  if (momentum) buffers.push({ name: 'mbuf', type: 'f32', write: true });
  const step = !momentum ? '' : `
  let b = df_add(df_mul_f(${df('mom')}, mbuf[k - P.mbuf_base]), d);
  mbuf[k - P.mbuf_base] = df_round(b);
  ${nesterov ? `d = df_add(d, df_mul(${df('mom')}, b));` : 'd = b;'}`;
  def = {
    name: `sgd${momentum ? (nesterov ? '(nesterov)' : '(momentum)') : ''}`,
    buffers,
    params: [['start', 'u32'], ['count', 'u32'], ...pair('gs'), ...pair('wd'), ...pair('mom'), ...pair('lr')],
    workgroupSize: [WG],
    module: DF64_WGSL,
    body: `${elementPrologue(WG)}
  let k = P.start + i;
  let p = param[k - P.param_base];
  // d = gradScale·g + weightDecay·p, in df64 like js's float64
  var d = df_add(df_mul_f(${df('gs')}, grad[k - P.grad_base]), df_mul_f(${df('wd')}, p));${step}
  param[k - P.param_base] = df_round(df_add(vec2<f32>(p, 0.0), df_neg(df_mul(${df('lr')}, d))));`,
  };
  sgdDefs.set(key, def);
  return def;
}

export function sgd(ctx: KernelContext, param: GpuBuffer, grad: GpuBuffer, momentumBuf: GpuBuffer | null, n: number, h: SgdParams): void {
  const withMomentum = momentumBuf !== null && h.momentum !== 0;
  const def = sgdDef(withMomentum, withMomentum && h.nesterov);
  const [gsHi, gsLo] = splitF64(h.gradScale), [wdHi, wdLo] = splitF64(h.weightDecay);
  const [momHi, momLo] = splitF64(h.momentum), [lrHi, lrLo] = splitF64(h.lr);
  forEachChunk(n, chunkElements(ctx.limits), (s, c) => {
    const binds = { param: range(param, s, c), grad: range(grad, s, c), ...(withMomentum ? { mbuf: range(momentumBuf!, s, c) } : {}) };
    launch(ctx, def, binds, { start: s, count: c, gsHi, gsLo, wdHi, wdLo, momHi, momLo, lrHi, lrLo }, Math.ceil(c / WG));
  });
}
