/**
 * GELU, tanh form: 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³). Written with the identity
 * 0.5(1 + tanh u) = σ(2u) = 1/(1 + e^(-2u)), which never forms ∞/∞ (a naive tanh does for large |u|), and with
 * 1 - σ(2u) = σ(-2u) taken from its own exponential rather than by cancellation.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';

const WG = 256;
const GELU_MODULE = /* wgsl */ `
const GELU_SCALE: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;
fn gelu_u(x: f32) -> f32 { return GELU_SCALE * (x + GELU_CUBIC * x * x * x); }
`;

const forwardDef: KernelDef = {
  name: 'geluForward',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'x', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32']],
  workgroupSize: [WG],
  module: GELU_MODULE,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let v = x[k - P.x_base];
  out[k - P.out_base] = v / (1.0 + exp(-2.0 * gelu_u(v)));`,
};

const backwardDef: KernelDef = {
  name: 'geluBackward',
  buffers: [{ name: 'dx', type: 'f32', write: true }, { name: 'x', type: 'f32' }, { name: 'dout', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32']],
  workgroupSize: [WG],
  module: GELU_MODULE,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let v = x[k - P.x_base];
  let u = gelu_u(v);
  let s = 1.0 / (1.0 + exp(-2.0 * u));
  let oms = 1.0 / (1.0 + exp(2.0 * u));
  let local = s + 2.0 * v * s * oms * GELU_SCALE * (1.0 + 3.0 * GELU_CUBIC * v * v);
  dx[k - P.dx_base] = dx[k - P.dx_base] + local * dout[k - P.dout_base];`,
};

export function geluForward(ctx: KernelContext, out: GpuBuffer, x: GpuBuffer, n: number): void {
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, forwardDef, { out: range(out, s, c), x: range(x, s, c) }, { start: s, count: c }, Math.ceil(c / WG)),
  );
}

export function geluBackward(ctx: KernelContext, dx: GpuBuffer, x: GpuBuffer, dout: GpuBuffer, n: number): void {
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, backwardDef, { dx: range(dx, s, c), x: range(x, s, c), dout: range(dout, s, c) }, { start: s, count: c }, Math.ceil(c / WG)),
  );
}
