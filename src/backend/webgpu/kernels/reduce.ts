/**
 * sumSquares (global-norm clipping): deterministic — a fixed tree of fixed partial sums, no atomics — and
 * accumulated in df64 (~48 bits) standing in for the contract's float64: each fixed 4096-element block is summed
 * (256 lanes × 16 strided elements, then a tree over the lanes), then the block partials by a fixed tree, rounded to
 * f32 once. Independent of timing, chunking and device.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL } from '../wgsl-df64.js';
import { rowTree } from '../wgsl-reduce.js';

export const SUM_BLOCK = 4096;
const LANES = 256;

const blockSumsDef: KernelDef = {
  name: 'sumSquares(blocks)',
  buffers: [{ name: 'x', type: 'f32' }, { name: 'partial', type: 'f32', write: true }],
  // start: first element of this chunk (a multiple of SUM_BLOCK); n: total elements; firstBlock: start / SUM_BLOCK.
  params: [['start', 'u32'], ['n', 'u32'], ['firstBlock', 'u32']],
  workgroupSize: [LANES],
  module: DF64_WGSL + rowTree('red', LANES),
  body: `
  let block_start = P.start + grp * ${SUM_BLOCK}u;
  var acc = vec2<f32>(0.0, 0.0);
  if (grp < P.ngroups) {
    for (var j = 0u; j < ${SUM_BLOCK / LANES}u; j = j + 1u) {
      let e = block_start + j * ${LANES}u + li;
      if (e < P.n) {
        let v = x[e - P.x_base];
        acc = df_add(acc, two_prod(v, v));
      }
    }
  }
  let total = red_sum(li, acc);
  if (li == 0u && grp < P.ngroups) {
    let b = P.firstBlock + grp;
    partial[2u * b - P.partial_base] = total.x;
    partial[2u * b + 1u - P.partial_base] = total.y;
  }`,
};

const finalSumDef: KernelDef = {
  name: 'sumSquares(total)',
  buffers: [{ name: 'partial', type: 'f32' }, { name: 'out', type: 'f32', write: true }],
  params: [['blocks', 'u32'], ['outIndex', 'u32']],
  workgroupSize: [LANES],
  module: DF64_WGSL + rowTree('red', LANES),
  body: `
  var acc = vec2<f32>(0.0, 0.0);
  for (var b = li; b < P.blocks; b = b + ${LANES}u) {
    acc = df_add(acc, vec2<f32>(partial[2u * b - P.partial_base], partial[2u * b + 1u - P.partial_base]));
  }
  let total = red_sum(li, acc);
  if (li == 0u) { out[P.outIndex - P.out_base] = df_round(total); }`,
};

export function sumSquares(
  ctx: KernelContext, out: GpuBuffer, outIndex: number, x: GpuBuffer, n: number,
  scratch: (bytes: number) => { buf: GpuBuffer; release(): void },
): void {
  const blocks = Math.ceil(n / SUM_BLOCK);
  const partial = scratch(Math.max(1, blocks) * 8);
  forEachChunk(n, chunkElements(ctx.limits, SUM_BLOCK), (s, c) => {
    const first = s / SUM_BLOCK, count = Math.ceil(c / SUM_BLOCK);
    launch(ctx, blockSumsDef, { x: range(x, s, c), partial: range(partial.buf, 2 * first, 2 * count) },
      { start: s, n, firstBlock: first }, count);
  });
  launch(ctx, finalSumDef, { partial: range(partial.buf, 0, 2 * blocks), out: range(out, outIndex, 1) }, { blocks, outIndex }, 1);
  partial.release();
}
