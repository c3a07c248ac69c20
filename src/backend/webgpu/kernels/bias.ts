/**
 * Bias: addBias broadcasts over rows (one f32 add per element, as js); biasBackward sums columns over rows —
 * one invocation column per channel, 16 lanes over rows, df64 partial sums joined by a fixed tree, added to dbias
 * with one rounding. Deterministic, no atomics. Row chunks keep each dout window within one binding.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { rowsPerChunk } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL } from '../wgsl-df64.js';
import { columnTree } from '../wgsl-reduce.js';

const WG = 256;

const addBiasDef: KernelDef = {
  name: 'addBias',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'bias', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['cols', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  out[k - P.out_base] = out[k - P.out_base] + bias[k % P.cols - P.bias_base];`,
};

export function addBias(ctx: KernelContext, out: GpuBuffer, bias: GpuBuffer, rows: number, cols: number): void {
  forEachChunk(rows, rowsPerChunk(ctx.limits, cols, rows), (r0, nr) =>
    launch(ctx, addBiasDef, { out: range(out, r0 * cols, nr * cols), bias: range(bias, 0, cols) },
      { start: r0 * cols, count: nr * cols, cols }, Math.ceil((nr * cols) / WG)),
  );
}

const COLS = 16, ROW_LANES = 16;

const biasBackwardDef: KernelDef = {
  name: 'biasBackward',
  buffers: [{ name: 'dbias', type: 'f32', write: true }, { name: 'dout', type: 'f32' }],
  params: [['rowStart', 'u32'], ['rows', 'u32'], ['cols', 'u32']],
  workgroupSize: [COLS, ROW_LANES],
  module: DF64_WGSL + columnTree('colred', COLS, ROW_LANES),
  body: `
  let c = grp * ${COLS}u + lid.x;
  var acc = vec2<f32>(0.0, 0.0);
  if (grp < P.ngroups && c < P.cols) {
    for (var r = P.rowStart + lid.y; r < P.rowStart + P.rows; r = r + ${ROW_LANES}u) {
      acc = df_add(acc, vec2<f32>(dout[r * P.cols + c - P.dout_base], 0.0));
    }
  }
  let total = colred_sum(lid.x, lid.y, acc);
  if (lid.y == 0u && grp < P.ngroups && c < P.cols) {
    dbias[c - P.dbias_base] = df_round(df_add(vec2<f32>(dbias[c - P.dbias_base], 0.0), total));
  }`,
};

export function biasBackward(ctx: KernelContext, dbias: GpuBuffer, dout: GpuBuffer, rows: number, cols: number): void {
  forEachChunk(rows, rowsPerChunk(ctx.limits, cols, rows), (r0, nr) =>
    launch(ctx, biasBackwardDef, { dbias: range(dbias, 0, cols), dout: range(dout, r0 * cols, nr * cols) },
      { rowStart: r0, rows: nr, cols }, Math.ceil(cols / COLS)),
  );
}
