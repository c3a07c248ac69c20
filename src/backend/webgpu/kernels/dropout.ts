/**
 * Dropout with the counter-based mask of src/backend/rng.ts, bit for bit: the same lowbias32 chain in u32
 * arithmetic (WGSL u32 multiplication wraps like Math.imul), the same 24-bit uniform, keep iff uniform >= fround(p),
 * kept values scaled by fround(1 / (1 - p)). The key prefix is computed on the host (keyPrefix) once per launch.
 */
import type { RngKey } from '../../backend.js';
import { keyPrefix } from '../../rng.js';
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL } from '../wgsl-df64.js';

const WG = 256;

export const RNG_WGSL = /* wgsl */ `
fn mix32(x0: u32) -> u32 {
  var x = x0;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}
fn uniform_at(prefix: u32, index: u32) -> f32 {
  let h = mix32(mix32(prefix ^ index) + 0x6a09e667u);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
`;

const forwardDef: KernelDef = {
  name: 'dropoutForward',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'x', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['prefix', 'u32'], ['p', 'f32'], ['s', 'f32']],
  workgroupSize: [WG],
  module: RNG_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  var v = 0.0;
  if (uniform_at(P.prefix, k) >= P.p) { v = x[k - P.x_base] * P.s; }
  out[k - P.out_base] = v;`,
};

// dx += dout * s, rounded once (the exact product plus dx, as js's float64 arithmetic does).
const backwardDef: KernelDef = {
  name: 'dropoutBackward',
  buffers: [{ name: 'dx', type: 'f32', write: true }, { name: 'dout', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['prefix', 'u32'], ['p', 'f32'], ['s', 'f32']],
  workgroupSize: [WG],
  module: RNG_WGSL + DF64_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  if (uniform_at(P.prefix, k) >= P.p) {
    let g = dx[k - P.dx_base];
    dx[k - P.dx_base] = df_round(df_add(vec2<f32>(g, 0.0), two_prod(dout[k - P.dout_base], P.s)));
  }`,
};

function dropoutParams(p: number, key: RngKey) {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return { prefix: keyPrefix(key), p: Math.fround(p), s: Math.fround(1 / (1 - p)) };
}

export function dropoutForward(ctx: KernelContext, out: GpuBuffer, x: GpuBuffer, n: number, p: number, key: RngKey): void {
  const q = dropoutParams(p, key);
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, forwardDef, { out: range(out, s, c), x: range(x, s, c) }, { start: s, count: c, ...q }, Math.ceil(c / WG)),
  );
}

export function dropoutBackward(ctx: KernelContext, dx: GpuBuffer, dout: GpuBuffer, n: number, p: number, key: RngKey): void {
  const q = dropoutParams(p, key);
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, backwardDef, { dx: range(dx, s, c), dout: range(dout, s, c) }, { start: s, count: c, ...q }, Math.ceil(c / WG)),
  );
}
