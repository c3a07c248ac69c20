/**
 * Attention plumbing: the head permutations (B,T,3C) ⇄ (B,NH,T,hs) and (B,NH,T,hs) ⇄ (B,T,C), exact moves with
 * one invocation per output element (backward: one f32 add per element, as js), and the row-wise causal softmax.
 *
 * Softmax rows (one workgroup each): max by a fixed tree, the sum of exponentials in df64 by a fixed tree, then
 * p = exp(s·a - max) / sum. Backward computes d = s·p·(g - Σ p·g) with the dot product and the difference in df64
 * (the difference cancels when g is nearly constant along the row). Work is cut into whole-batch / whole-row chunks
 * whose windows fit one binding.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements, rowsPerChunk } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL, splitF64 } from '../wgsl-df64.js';
import { maxTree, rowTree } from '../wgsl-reduce.js';

const WG = 256;
const LANES = 64;

// Head index h = ((b*NH + nh)*T + t)*hs + e; decode needs T, NH, hs.
const DECODE_HEAD = `
  let h = P.hStart + i;
  let e = h % P.hs;
  let t = (h / P.hs) % P.T;
  let bn = h / (P.hs * P.T);
  let nh = bn % P.NH;
  let b = bn / P.NH;`;

const splitDef = (backward: boolean): KernelDef => ({
  name: backward ? 'splitHeadsBackward' : 'splitHeads',
  buffers: [
    { name: 'q', type: 'f32', write: !backward }, { name: 'k', type: 'f32', write: !backward }, { name: 'v', type: 'f32', write: !backward },
    { name: 'qkv', type: 'f32', write: backward },
  ],
  params: [['hStart', 'u32'], ['count', 'u32'], ['T', 'u32'], ['NH', 'u32'], ['hs', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}${DECODE_HEAD}
  let C = P.NH * P.hs;
  let s = (b * P.T + t) * 3u * C + nh * P.hs + e - P.qkv_base;
  ${backward
    ? `qkv[s] = qkv[s] + q[h - P.q_base];
  qkv[s + C] = qkv[s + C] + k[h - P.k_base];
  qkv[s + 2u * C] = qkv[s + 2u * C] + v[h - P.v_base];`
    : `q[h - P.q_base] = qkv[s];
  k[h - P.k_base] = qkv[s + C];
  v[h - P.v_base] = qkv[s + 2u * C];`}`,
});
const splitForwardDef = splitDef(false), splitBackwardDef = splitDef(true);

const mergeDef = (backward: boolean): KernelDef => ({
  name: backward ? 'mergeHeadsBackward' : 'mergeHeads',
  buffers: [{ name: 'y', type: 'f32', write: backward }, { name: 'merged', type: 'f32', write: !backward }],
  params: [['hStart', 'u32'], ['count', 'u32'], ['T', 'u32'], ['NH', 'u32'], ['hs', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}${DECODE_HEAD}
  let m = (b * P.T + t) * P.NH * P.hs + nh * P.hs + e - P.merged_base;
  ${backward ? 'y[h - P.y_base] = y[h - P.y_base] + merged[m];' : 'merged[m] = y[h - P.y_base];'}`,
});
const mergeForwardDef = mergeDef(false), mergeBackwardDef = mergeDef(true);

/** Whole batches per dispatch so that the largest per-batch window (elemsPerBatch) fits. */
function batchesPerChunk(ctx: KernelContext, elemsPerBatch: number): number {
  return Math.max(1, Math.floor(chunkElements(ctx.limits) / Math.max(elemsPerBatch, 1)));
}

function heads(ctx: KernelContext, def: KernelDef, B: number, T: number, NH: number, hs: number, bind: (b0: number, nb: number) => Record<string, ReturnType<typeof range>>, packedWidth: number): void {
  const perBatch = T * NH * hs;
  forEachChunk(B, batchesPerChunk(ctx, perBatch * packedWidth), (b0, nb) =>
    launch(ctx, def, bind(b0, nb), { hStart: b0 * perBatch, count: nb * perBatch, T, NH, hs }, Math.ceil((nb * perBatch) / WG)),
  );
}

export function splitHeads(ctx: KernelContext, q: GpuBuffer, k: GpuBuffer, v: GpuBuffer, qkv: GpuBuffer, B: number, T: number, NH: number, hs: number, backward: boolean): void {
  const n = T * NH * hs;
  heads(ctx, backward ? splitBackwardDef : splitForwardDef, B, T, NH, hs, (b0, nb) => ({
    q: range(q, b0 * n, nb * n), k: range(k, b0 * n, nb * n), v: range(v, b0 * n, nb * n), qkv: range(qkv, b0 * 3 * n, nb * 3 * n),
  }), 3);
}

export function mergeHeads(ctx: KernelContext, merged: GpuBuffer, y: GpuBuffer, B: number, T: number, NH: number, hs: number, backward: boolean): void {
  const n = T * NH * hs;
  heads(ctx, backward ? mergeBackwardDef : mergeForwardDef, B, T, NH, hs, (b0, nb) => ({
    y: range(y, b0 * n, nb * n), merged: range(merged, b0 * n, nb * n),
  }), 1);
}

const softmaxForwardDef: KernelDef = {
  name: 'causalSoftmaxForward',
  buffers: [{ name: 'att', type: 'f32', write: true }],
  // One workgroup per attention row (r, t); rowStart counts rows of length T.
  params: [['rowStart', 'u32'], ['T', 'u32'], ['scale', 'f32']],
  workgroupSize: [LANES],
  module: DF64_WGSL + rowTree('red', LANES) + maxTree(LANES),
  body: `
  if (grp >= P.ngroups) { return; }
  let row = P.rowStart + grp;
  let t = row % P.T;
  let o = row * P.T - P.att_base;
  var m = -3.4028234663852886e38;
  for (var j = li; j <= t; j = j + ${LANES}u) { m = max(m, P.scale * att[o + j]); }
  m = max_all(li, m);
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = li; j <= t; j = j + ${LANES}u) { acc = df_add(acc, vec2<f32>(exp(P.scale * att[o + j] - m), 0.0)); }
  let inv = df_recip(red_sum(li, acc));
  for (var j = li; j < P.T; j = j + ${LANES}u) {
    var p = 0.0;
    if (j <= t) { p = df_round(df_mul_f(inv, exp(P.scale * att[o + j] - m))); }
    att[o + j] = p;
  }`,
};

const softmaxBackwardDef: KernelDef = {
  name: 'causalSoftmaxBackward',
  buffers: [{ name: 'datt', type: 'f32', write: true }, { name: 'att', type: 'f32' }],
  params: [['rowStart', 'u32'], ['T', 'u32'], ['scaleHi', 'f32'], ['scaleLo', 'f32']],
  workgroupSize: [LANES],
  module: DF64_WGSL + rowTree('red', LANES),
  body: `
  if (grp >= P.ngroups) { return; }
  let row = P.rowStart + grp;
  let t = row % P.T;
  let go = row * P.T - P.datt_base;
  let po = row * P.T - P.att_base;
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = li; j <= t; j = j + ${LANES}u) { acc = df_add(acc, two_prod(att[po + j], datt[go + j])); }
  let dot = red_sum(li, acc);
  let scale = vec2<f32>(P.scaleHi, P.scaleLo);
  for (var j = li; j < P.T; j = j + ${LANES}u) {
    var d = 0.0;
    if (j <= t) { d = df_round(df_mul(scale, df_mul_f(df_sub(vec2<f32>(datt[go + j], 0.0), dot), att[po + j]))); }
    datt[go + j] = d;
  }`,
};

export function causalSoftmaxForward(ctx: KernelContext, att: GpuBuffer, rows: number, T: number, scale: number): void {
  const total = rows * T;
  forEachChunk(total, rowsPerChunk(ctx.limits, T, total), (r0, nr) =>
    launch(ctx, softmaxForwardDef, { att: range(att, r0 * T, nr * T) }, { rowStart: r0, T, scale }, nr),
  );
}

export function causalSoftmaxBackward(ctx: KernelContext, datt: GpuBuffer, att: GpuBuffer, rows: number, T: number, scale: number): void {
  const total = rows * T;
  const [scaleHi, scaleLo] = splitF64(scale);
  forEachChunk(total, rowsPerChunk(ctx.limits, T, total), (r0, nr) =>
    launch(ctx, softmaxBackwardDef, { datt: range(datt, r0 * T, nr * T), att: range(att, r0 * T, nr * T) }, { rowStart: r0, T, scaleHi, scaleLo }, nr),
  );
}
