/**
 * Rotary position embedding (HF rotate_half) fused with the head split, one invocation per output element:
 * forward writes out(B,NH,T,hs) from x(B,T,NH*hs); backward adds into dx(B,T,NH*hs) from dout(B,NH,T,hs). Each
 * output is a sum of two products (x·cos ± x'·sin), carried in df64 and rounded once, as js computes it in float64.
 * The cos/sin table cs(2,T,hs/2) is computed on the host (rope-table.ts) and uploaded by the backend.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL } from '../wgsl-df64.js';

const WG = 256;

const forwardDef: KernelDef = {
  name: 'ropeForward',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'x', type: 'f32' }, { name: 'cs', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['T', 'u32'], ['NH', 'u32'], ['hs', 'u32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  // h = ((b*NH + nh)*T + t)*hs + e indexes out
  let h = P.start + i;
  let e = h % P.hs;
  let t = (h / P.hs) % P.T;
  let bn = h / (P.hs * P.T);
  let nh = bn % P.NH;
  let b = bn / P.NH;
  let half = P.hs / 2u;
  let k = e % half;
  let c = cs[t * half + k - P.cs_base];
  let s = cs[(P.T + t) * half + k - P.cs_base];
  let xr = (b * P.T + t) * P.NH * P.hs + nh * P.hs - P.x_base;
  var other: f32;
  if (e < half) { other = -x[xr + e + half]; } else { other = x[xr + e - half]; }
  out[h - P.out_base] = df_round(df_add(two_prod(x[xr + e], c), two_prod(other, s)));`,
};

const backwardDef: KernelDef = {
  name: 'ropeBackward',
  buffers: [{ name: 'dx', type: 'f32', write: true }, { name: 'dout', type: 'f32' }, { name: 'cs', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['T', 'u32'], ['NH', 'u32'], ['hs', 'u32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  // j = (b*T + t)*NH*hs + nh*hs + e indexes dx
  let j = P.start + i;
  let width = P.NH * P.hs;
  let e = j % P.hs;
  let nh = (j % width) / P.hs;
  let t = (j / width) % P.T;
  let b = j / (width * P.T);
  let half = P.hs / 2u;
  let k = e % half;
  let c = cs[t * half + k - P.cs_base];
  let s = cs[(P.T + t) * half + k - P.cs_base];
  let o = ((b * P.NH + nh) * P.T + t) * P.hs - P.dout_base;
  var other: f32;
  if (e < half) { other = dout[o + e + half]; } else { other = -dout[o + e - half]; }
  let g = df_add(two_prod(dout[o + e], c), two_prod(other, s));
  dx[j - P.dx_base] = df_round(df_add(vec2<f32>(dx[j - P.dx_base], 0.0), g));`,
};

function checkHeadSize(kernel: string, hs: number): void {
  if (!Number.isInteger(hs) || hs < 2 || hs % 2 !== 0) throw new RangeError(`${kernel}: hs must be a positive even integer, got ${hs}`);
}

/** Whole batches per dispatch, so each dispatch's windows of x and out (one batch = T·NH·hs each) fit a binding. */
function perBatch(ctx: KernelContext, T: number, NH: number, hs: number, fn: (b0: number, nb: number, n: number) => void, B: number): void {
  const n = T * NH * hs;
  forEachChunk(B, Math.max(1, Math.floor(chunkElements(ctx.limits) / Math.max(n, 1))), (b0, nb) => fn(b0, nb, n));
}

export function ropeForward(ctx: KernelContext, out: GpuBuffer, x: GpuBuffer, cs: GpuBuffer, B: number, T: number, NH: number, hs: number): void {
  checkHeadSize('ropeForward', hs);
  perBatch(ctx, T, NH, hs, (b0, nb, n) =>
    launch(ctx, forwardDef, { out: range(out, b0 * n, nb * n), x: range(x, b0 * n, nb * n), cs: range(cs, 0, T * hs) },
      { start: b0 * n, count: nb * n, T, NH, hs }, Math.ceil((nb * n) / WG)), B);
}

export function ropeBackward(ctx: KernelContext, dx: GpuBuffer, dout: GpuBuffer, cs: GpuBuffer, B: number, T: number, NH: number, hs: number): void {
  checkHeadSize('ropeBackward', hs);
  perBatch(ctx, T, NH, hs, (b0, nb, n) =>
    launch(ctx, backwardDef, { dx: range(dx, b0 * n, nb * n), dout: range(dout, b0 * n, nb * n), cs: range(cs, 0, T * hs) },
      { start: b0 * n, count: nb * n, T, NH, hs }, Math.ceil((nb * n) / WG)), B);
}
