/**
 * SwiGLU (Llama's MLP gate): out = silu(gate)·up, silu(g) = g·σ(g). σ(g) = 1/(1 + e^(-g)) and 1 − σ(g) = σ(−g) each
 * from their own exponential, so neither tail forms ∞·0 or cancels.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';

const WG = 256;

const forwardDef: KernelDef = {
  name: 'swigluForward',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'gate', type: 'f32' }, { name: 'up', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let g = gate[k - P.gate_base];
  out[k - P.out_base] = g / (1.0 + exp(-g)) * up[k - P.up_base];`,
};

const backwardDef: KernelDef = {
  name: 'swigluBackward',
  buffers: [
    { name: 'dgate', type: 'f32', write: true }, { name: 'dup', type: 'f32', write: true },
    { name: 'gate', type: 'f32' }, { name: 'up', type: 'f32' }, { name: 'dout', type: 'f32' },
  ],
  params: [['start', 'u32'], ['count', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let g = gate[k - P.gate_base];
  let d = dout[k - P.dout_base];
  let s = 1.0 / (1.0 + exp(-g));
  let oms = 1.0 / (1.0 + exp(g));
  dgate[k - P.dgate_base] = dgate[k - P.dgate_base] + d * up[k - P.up_base] * s * (1.0 + g * oms);
  dup[k - P.dup_base] = dup[k - P.dup_base] + d * g * s;`,
};

export function swigluForward(ctx: KernelContext, out: GpuBuffer, gate: GpuBuffer, up: GpuBuffer, n: number): void {
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, forwardDef, { out: range(out, s, c), gate: range(gate, s, c), up: range(up, s, c) }, { start: s, count: c }, Math.ceil(c / WG)),
  );
}

export function swigluBackward(ctx: KernelContext, dgate: GpuBuffer, dup: GpuBuffer, gate: GpuBuffer, up: GpuBuffer, dout: GpuBuffer, n: number): void {
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, backwardDef, { dgate: range(dgate, s, c), dup: range(dup, s, c), gate: range(gate, s, c), up: range(up, s, c), dout: range(dout, s, c) },
      { start: s, count: c }, Math.ceil(c / WG)),
  );
}
