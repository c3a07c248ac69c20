/**
 * Fused softmax cross-entropy. Forward: one workgroup per row — max by a fixed tree, Σ exp(z - max) in df64 by a
 * fixed tree, lse = max + log(sum) — writing losses and lse, never a softmax. Backward: one invocation per logit,
 * dlogits = (exp(z - lse) - [j = target]) · gradScale, 0 for ignored rows (target < 0); dlogits may be logits
 * itself (the kernel binds one buffer then, see kernel.ts on aliasing).
 *
 * A (N, V) logits tensor can exceed one binding (N·V·4 bytes: 8 × 1024 tokens × 50257 is 1.6 GB): rows are cut into
 * chunks whose windows fit.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { rowsPerChunk } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL, splitF64 } from '../wgsl-df64.js';
import { maxTree, rowTree } from '../wgsl-reduce.js';

const LANES = 256;
const WG = 256;

const forwardDef: KernelDef = {
  name: 'crossEntropyForward',
  buffers: [
    { name: 'losses', type: 'f32', write: true }, { name: 'lse', type: 'f32', write: true },
    { name: 'logits', type: 'f32' }, { name: 'targets', type: 'i32' },
  ],
  params: [['rowStart', 'u32'], ['V', 'u32']],
  workgroupSize: [LANES],
  module: DF64_WGSL + rowTree('red', LANES) + maxTree(LANES),
  body: `
  if (grp >= P.ngroups) { return; }
  let row = P.rowStart + grp;
  let o = row * P.V - P.logits_base;
  var m = -3.4028234663852886e38;
  for (var j = li; j < P.V; j = j + ${LANES}u) { m = max(m, logits[o + j]); }
  m = max_all(li, m);
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = li; j < P.V; j = j + ${LANES}u) { acc = df_add(acc, vec2<f32>(exp(logits[o + j] - m), 0.0)); }
  let sum = red_sum(li, acc);
  if (li == 0u) {
    // log(hi + lo) = log(hi) + lo/hi to first order; lo/hi < 2^-24.
    let l = df_add(two_sum(m, log(sum.x)), vec2<f32>(sum.y / sum.x, 0.0));
    lse[row - P.lse_base] = df_round(l);
    let t = targets[row - P.targets_base];
    var loss = 0.0;
    if (t >= 0) { loss = df_round(df_sub(l, vec2<f32>(logits[o + u32(t)], 0.0))); }
    losses[row - P.losses_base] = loss;
  }`,
};

const backwardDef: KernelDef = {
  name: 'crossEntropyBackward',
  buffers: [
    { name: 'dlogits', type: 'f32', write: true }, { name: 'logits', type: 'f32' },
    { name: 'lse', type: 'f32' }, { name: 'targets', type: 'i32' },
  ],
  params: [['start', 'u32'], ['count', 'u32'], ['V', 'u32'], ['gsHi', 'f32'], ['gsLo', 'f32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let row = k / P.V;
  let j = k % P.V;
  let t = targets[row - P.targets_base];
  var d = 0.0;
  if (t >= 0) {
    var p = exp(logits[k - P.logits_base] - lse[row - P.lse_base]);
    var g = vec2<f32>(p, 0.0);
    if (u32(t) == j) { g = two_sum(p, -1.0); }
    d = df_round(df_mul(g, vec2<f32>(P.gsHi, P.gsLo)));
  }
  dlogits[k - P.dlogits_base] = d;`,
};

export function crossEntropyForward(ctx: KernelContext, losses: GpuBuffer, lse: GpuBuffer, logits: GpuBuffer, targets: GpuBuffer, N: number, V: number): void {
  forEachChunk(N, rowsPerChunk(ctx.limits, V, N), (r0, nr) =>
    launch(ctx, forwardDef,
      { losses: range(losses, r0, nr), lse: range(lse, r0, nr), logits: range(logits, r0 * V, nr * V), targets: range(targets, r0, nr) },
      { rowStart: r0, V }, nr),
  );
}

export function crossEntropyBackward(
  ctx: KernelContext, dlogits: GpuBuffer, logits: GpuBuffer, lse: GpuBuffer, targets: GpuBuffer, N: number, V: number, gradScale: number,
): void {
  const [gsHi, gsLo] = splitF64(gradScale);
  forEachChunk(N, rowsPerChunk(ctx.limits, V, N), (r0, nr) =>
    launch(ctx, backwardDef,
      { dlogits: range(dlogits, r0 * V, nr * V), logits: range(logits, r0 * V, nr * V), lse: range(lse, r0, nr), targets: range(targets, r0, nr) },
      { start: r0 * V, count: nr * V, V, gsHi, gsLo }, Math.ceil((nr * V) / WG)),
  );
}
