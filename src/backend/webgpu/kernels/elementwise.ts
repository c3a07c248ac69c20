/**
 * fill / copy / scale / add / axpy. Fill and copy move bits (u32 views), so they serve f32 and i32 alike and are
 * exact; zero fills and copies between buffers use the copy engine (clearBuffer / copyBufferToBuffer), which has
 * no binding limit. scale and axpy take α as a float64 (hi, lo) pair and round once, like js.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL, splitF64 } from '../wgsl-df64.js';

const WG = 256;

const fillDef: KernelDef = {
  name: 'fill',
  buffers: [{ name: 'x', type: 'u32', write: true }],
  params: [['start', 'u32'], ['count', 'u32'], ['bits', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  x[P.start + i - P.x_base] = P.bits;`,
};

const scaleDef: KernelDef = {
  name: 'scale',
  buffers: [{ name: 'x', type: 'f32', write: true }],
  params: [['start', 'u32'], ['count', 'u32'], ['alphaHi', 'f32'], ['alphaLo', 'f32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i - P.x_base;
  x[k] = df_round(df_mul_f(vec2<f32>(P.alphaHi, P.alphaLo), x[k]));`,
};

const addDef: KernelDef = {
  name: 'add',
  buffers: [{ name: 'out', type: 'f32', write: true }, { name: 'a', type: 'f32' }, { name: 'b', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  out[k - P.out_base] = a[k - P.a_base] + b[k - P.b_base];`,
};

const axpyDef: KernelDef = {
  name: 'axpy',
  buffers: [{ name: 'y', type: 'f32', write: true }, { name: 'x', type: 'f32' }],
  params: [['start', 'u32'], ['count', 'u32'], ['alphaHi', 'f32'], ['alphaLo', 'f32']],
  workgroupSize: [WG],
  module: DF64_WGSL,
  body: `${elementPrologue(WG)}
  let k = P.start + i;
  let ax = df_mul_f(vec2<f32>(P.alphaHi, P.alphaLo), x[k - P.x_base]);
  y[k - P.y_base] = df_round(df_add(vec2<f32>(y[k - P.y_base], 0.0), ax));`,
};

/** x[offset .. offset+n) = the 32 bits `bits`. */
export function fill(ctx: KernelContext, x: GpuBuffer, bits: number, n: number, offset: number): void {
  if (bits === 0) {
    ctx.recorder.clearBuffer(x.gpu, offset * 4, n * 4);
    return;
  }
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, fillDef, { x: range(x, offset + s, c) }, { start: offset + s, count: c, bits }, Math.ceil(c / WG)),
  );
}

/** dst[dstOffset + i] = src[srcOffset + i]; overlapping ranges of one buffer behave like memmove (via `scratch`). */
export function copy(
  ctx: KernelContext, dst: GpuBuffer, src: GpuBuffer, n: number, dstOffset: number, srcOffset: number,
  scratch: (bytes: number) => { gpu: GPUBuffer; release(): void },
): void {
  if (n === 0) return;
  if (dst.gpu !== src.gpu) {
    ctx.recorder.copyBufferToBuffer(src.gpu, srcOffset * 4, dst.gpu, dstOffset * 4, n * 4);
    return;
  }
  if (dstOffset === srcOffset) return;
  // copyBufferToBuffer needs two different buffers: go through a scratch buffer.
  const tmp = scratch(n * 4);
  ctx.recorder.copyBufferToBuffer(src.gpu, srcOffset * 4, tmp.gpu, 0, n * 4);
  ctx.recorder.copyBufferToBuffer(tmp.gpu, 0, dst.gpu, dstOffset * 4, n * 4);
  tmp.release();
}

export function scale(ctx: KernelContext, x: GpuBuffer, alpha: number, n: number): void {
  const [alphaHi, alphaLo] = splitF64(alpha);
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, scaleDef, { x: range(x, s, c) }, { start: s, count: c, alphaHi, alphaLo }, Math.ceil(c / WG)),
  );
}

export function add(ctx: KernelContext, out: GpuBuffer, a: GpuBuffer, b: GpuBuffer, n: number): void {
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, addDef, { out: range(out, s, c), a: range(a, s, c), b: range(b, s, c) }, { start: s, count: c }, Math.ceil(c / WG)),
  );
}

export function axpy(ctx: KernelContext, y: GpuBuffer, x: GpuBuffer, alpha: number, n: number): void {
  const [alphaHi, alphaLo] = splitF64(alpha);
  forEachChunk(n, chunkElements(ctx.limits), (s, c) =>
    launch(ctx, axpyDef, { y: range(y, s, c), x: range(x, s, c) }, { start: s, count: c, alphaHi, alphaLo }, Math.ceil(c / WG)),
  );
}
