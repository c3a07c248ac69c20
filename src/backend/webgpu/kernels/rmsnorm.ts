/**
 * RMSNorm over rows of C (Llama): forward and the dx part of backward one workgroup per row, sums by a fixed tree;
 * dw one invocation column per channel, lanes over rows, fixed tree — no atomics (the layout shared with LayerNorm:
 * norm-rows.ts). Like layernorm.ts, the arithmetic is df64 and rounded once, as the js oracle's float64 is.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { rowsPerChunk } from '../limits.js';
import { forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { splitF64 } from '../wgsl-df64.js';
import { ADD_TO_DX, eachChannel, LANES, normBackward, ROW_MODULE, rowStart, weightGradDef } from './norm-rows.js';

const forwardDef: KernelDef = {
  name: 'rmsnormForward',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'rstd', type: 'f32', write: true }, { name: 'x', type: 'f32' }, { name: 'w', type: 'f32' }],
  params: [['rowStart', 'u32'], ['C', 'u32'], ['invCHi', 'f32'], ['invCLo', 'f32'], ['epsHi', 'f32'], ['epsLo', 'f32']],
  workgroupSize: [LANES],
  module: ROW_MODULE,
  body: `${rowStart({ xo: 'x', oo: 'out' })}
  var acc = vec2<f32>(0.0, 0.0);
  ${eachChannel(' acc = df_add(acc, two_prod(x[xo + c], x[xo + c])); ')}
  let ms = df_mul(red_sum(li, acc), vec2<f32>(P.invCHi, P.invCLo));
  let s = df_recip(df_sqrt(df_add(ms, vec2<f32>(P.epsHi, P.epsLo))));
  ${eachChannel(`
    out[oo + c] = df_round(df_mul_f(df_mul_f(s, x[xo + c]), w[c - P.w_base]));
  `)}
  if (li == 0u) { rstd[row - P.rstd_base] = df_round(s); }`,
};

const dxDef: KernelDef = {
  name: 'rmsnormBackward(dx)',
  buffers: [{ name: 'dx', type: 'f32', write: true }, { name: 'dout', type: 'f32' }, { name: 'x', type: 'f32' }, { name: 'w', type: 'f32' }, { name: 'rstd', type: 'f32' }],
  params: [['rowStart', 'u32'], ['C', 'u32'], ['invCHi', 'f32'], ['invCLo', 'f32']],
  workgroupSize: [LANES],
  module: ROW_MODULE,
  body: `${rowStart({ xo: 'x', go: 'dout', dxo: 'dx' })}
  let s = rstd[row - P.rstd_base];
  var acc = vec2<f32>(0.0, 0.0);
  ${eachChannel(`
    acc = df_add(acc, df_mul(two_prod(w[c - P.w_base], dout[go + c]), two_prod(x[xo + c], s)));
  `)}
  let dot = df_mul(red_sum(li, acc), vec2<f32>(P.invCHi, P.invCLo));
  ${eachChannel(`
    let t = df_sub(two_prod(w[c - P.w_base], dout[go + c]), df_mul(two_prod(x[xo + c], s), dot));
    ${ADD_TO_DX}
  `)}`,
};

const dwDef = weightGradDef(
  'rmsnormBackward(dw)',
  [{ name: 'dw', type: 'f32', write: true }, { name: 'dout', type: 'f32' }, { name: 'x', type: 'f32' }, { name: 'rstd', type: 'f32' }],
  { dw: 'aw' },
  `
      aw = df_add(aw, df_mul_f(two_prod(x[r * P.C + c - P.x_base], rstd[r - P.rstd_base]), dout[r * P.C + c - P.dout_base]));
    `,
);

export function rmsnormForward(ctx: KernelContext, out: GpuBuffer, rstd: GpuBuffer, x: GpuBuffer, w: GpuBuffer, N: number, C: number, eps: number): void {
  if (!(eps >= 0)) throw new RangeError(`rmsnormForward: eps must be a non-negative number, got ${eps}`);
  const [invCHi, invCLo] = splitF64(1 / C), [epsHi, epsLo] = splitF64(eps);
  forEachChunk(N, rowsPerChunk(ctx.limits, C, N), (r0, nr) =>
    launch(ctx, forwardDef, { out: range(out, r0 * C, nr * C), rstd: range(rstd, r0, nr), x: range(x, r0 * C, nr * C), w: range(w, 0, C) },
      { rowStart: r0, C, invCHi, invCLo, epsHi, epsLo }, nr),
  );
}

export function rmsnormBackward(ctx: KernelContext, dx: GpuBuffer, dw: GpuBuffer, dout: GpuBuffer, x: GpuBuffer, w: GpuBuffer, rstd: GpuBuffer, N: number, C: number): void {
  const [invCHi, invCLo] = splitF64(1 / C);
  normBackward(ctx, N, C, dx, w, { rstd }, { dout, x }, { def: dwDef, grads: { dw } }, dxDef, { invCHi, invCLo });
}
