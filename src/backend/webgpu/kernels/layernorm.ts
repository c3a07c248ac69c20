/**
 * LayerNorm over rows of C (eps = 1e-5). Forward and the dx part of backward: one workgroup per row, sums by a
 * fixed tree; dw/db: one invocation column per channel, lanes over rows, fixed tree — no atomics (the layout shared
 * with RMSNorm: norm-rows.ts).
 *
 * The js oracle works in float64 (mean, variance, and the normalised value it multiplies by w), and the outputs sit
 * next to cancellations ((x - mean)·rstd·w + b near 0; dnorm - mean(dnorm) - norm·mean(dnorm·norm)), so these
 * kernels carry df64 through the arithmetic and round once, like js.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { rowsPerChunk } from '../limits.js';
import { forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { splitF64 } from '../wgsl-df64.js';
import { ADD_TO_DX, eachChannel, LANES, normBackward, ROW_MODULE, rowStart, weightGradDef } from './norm-rows.js';

const EPS = 1e-5;

const forwardDef: KernelDef = {
  name: 'layernormForward',
  buffers: [
    { name: 'out', type: 'f32', write: true }, { name: 'mean', type: 'f32', write: true }, { name: 'rstd', type: 'f32', write: true },
    { name: 'x', type: 'f32' }, { name: 'w', type: 'f32' }, { name: 'b', type: 'f32' },
  ],
  params: [['rowStart', 'u32'], ['C', 'u32'], ['invCHi', 'f32'], ['invCLo', 'f32'], ['epsHi', 'f32'], ['epsLo', 'f32']],
  workgroupSize: [LANES],
  module: ROW_MODULE,
  body: `${rowStart({ xo: 'x', oo: 'out' })}
  let invC = vec2<f32>(P.invCHi, P.invCLo);
  var acc = vec2<f32>(0.0, 0.0);
  ${eachChannel(' acc = df_add(acc, vec2<f32>(x[xo + c], 0.0)); ')}
  let m = df_mul(red_sum(li, acc), invC);
  acc = vec2<f32>(0.0, 0.0);
  ${eachChannel(`
    let d = df_sub(vec2<f32>(x[xo + c], 0.0), m);
    acc = df_add(acc, df_mul(d, d));
  `)}
  let v = df_mul(red_sum(li, acc), invC);
  let s = df_recip(df_sqrt(df_add(v, vec2<f32>(P.epsHi, P.epsLo))));
  ${eachChannel(`
    let norm = df_mul(df_sub(vec2<f32>(x[xo + c], 0.0), m), s);
    out[oo + c] = df_round(df_add(df_mul_f(norm, w[c - P.w_base]), vec2<f32>(b[c - P.b_base], 0.0)));
  `)}
  if (li == 0u) {
    mean[row - P.mean_base] = df_round(m);
    rstd[row - P.rstd_base] = df_round(s);
  }`,
};

const dxDef: KernelDef = {
  name: 'layernormBackward(dx)',
  buffers: [
    { name: 'dx', type: 'f32', write: true }, { name: 'dout', type: 'f32' }, { name: 'x', type: 'f32' },
    { name: 'w', type: 'f32' }, { name: 'mean', type: 'f32' }, { name: 'rstd', type: 'f32' },
  ],
  params: [['rowStart', 'u32'], ['C', 'u32'], ['invCHi', 'f32'], ['invCLo', 'f32']],
  workgroupSize: [LANES],
  module: ROW_MODULE,
  body: `${rowStart({ xo: 'x', go: 'dout', dxo: 'dx' })}
  let m = mean[row - P.mean_base];
  let s = rstd[row - P.rstd_base];
  let invC = vec2<f32>(P.invCHi, P.invCLo);
  var a1 = vec2<f32>(0.0, 0.0);
  var a2 = vec2<f32>(0.0, 0.0);
  ${eachChannel(`
    let norm = df_mul_f(two_sum(x[xo + c], -m), s);
    let dnorm = two_prod(w[c - P.w_base], dout[go + c]);
    a1 = df_add(a1, dnorm);
    a2 = df_add(a2, df_mul(dnorm, norm));
  `)}
  let dnormMean = df_mul(red_sum(li, a1), invC);
  let dnormNormMean = df_mul(red_sum(li, a2), invC);
  ${eachChannel(`
    let norm = df_mul_f(two_sum(x[xo + c], -m), s);
    let dnorm = two_prod(w[c - P.w_base], dout[go + c]);
    let t = df_sub(df_sub(dnorm, dnormMean), df_mul(norm, dnormNormMean));
    ${ADD_TO_DX}
  `)}`,
};

const dwdbDef = weightGradDef(
  'layernormBackward(dw,db)',
  [
    { name: 'dw', type: 'f32', write: true }, { name: 'db', type: 'f32', write: true }, { name: 'dout', type: 'f32' },
    { name: 'x', type: 'f32' }, { name: 'mean', type: 'f32' }, { name: 'rstd', type: 'f32' },
  ],
  { dw: 'aw', db: 'ab' },
  `
      let norm = df_mul_f(two_sum(x[r * P.C + c - P.x_base], -mean[r - P.mean_base]), rstd[r - P.rstd_base]);
      let g = dout[r * P.C + c - P.dout_base];
      ab = df_add(ab, vec2<f32>(g, 0.0));
      aw = df_add(aw, df_mul_f(norm, g));
    `,
);

export function layernormForward(
  ctx: KernelContext, out: GpuBuffer, mean: GpuBuffer, rstd: GpuBuffer, x: GpuBuffer, w: GpuBuffer, b: GpuBuffer, N: number, C: number,
): void {
  const [invCHi, invCLo] = splitF64(1 / C), [epsHi, epsLo] = splitF64(EPS);
  forEachChunk(N, rowsPerChunk(ctx.limits, C, N), (r0, nr) =>
    launch(ctx, forwardDef,
      { out: range(out, r0 * C, nr * C), mean: range(mean, r0, nr), rstd: range(rstd, r0, nr), x: range(x, r0 * C, nr * C), w: range(w, 0, C), b: range(b, 0, C) },
      { rowStart: r0, C, invCHi, invCLo, epsHi, epsLo }, nr),
  );
}

export function layernormBackward(
  ctx: KernelContext, dx: GpuBuffer, dw: GpuBuffer, db: GpuBuffer, dout: GpuBuffer, x: GpuBuffer, w: GpuBuffer,
  mean: GpuBuffer, rstd: GpuBuffer, N: number, C: number,
): void {
  const [invCHi, invCLo] = splitF64(1 / C);
  normBackward(ctx, N, C, dx, w, { mean, rstd }, { dout, x }, { def: dwdbDef, grads: { dw, db } }, dxDef, { invCHi, invCLo });
}
