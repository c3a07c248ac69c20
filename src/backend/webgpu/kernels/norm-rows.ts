/**
 * What LayerNorm (layernorm.ts) and RMSNorm (rmsnorm.ts) share: the row kernels' layout — forward and the dx part of
 * backward one workgroup of LANES per row, sums by the fixed row tree — and the weight-gradient kernels' — one
 * invocation column per channel, ROW_LANES lanes over rows, the fixed column tree, no atomics — plus the backward's
 * dispatch (weight gradients first, so that a dx aliasing dout still reads the original dout, as in js). The
 * arithmetic around them is df64, rounded once (wgsl-df64.ts).
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { rowsPerChunk } from '../limits.js';
import { forEachChunk, launch, range, type Binding, type KernelContext, type KernelDef } from '../kernel.js';
import { DF64_WGSL } from '../wgsl-df64.js';
import { columnTree, rowTree } from '../wgsl-reduce.js';

export const LANES = 64;
const COLS = 16, ROW_LANES = 16;

/** The module of a row kernel: df64 and the row tree `red_sum(li, v)`. */
export const ROW_MODULE = DF64_WGSL + rowTree('red', LANES);

/**
 * WGSL that starts a row kernel: returns from workgroups past the last row, names the row, and for each
 * `offset: buffer` pair the row's first element in that buffer (`let xo = row * P.C - P.x_base;`).
 */
export function rowStart(offsets: Record<string, string>): string {
  const lets = Object.entries(offsets).map(([o, buf]) => `\n  let ${o} = row * P.C - P.${buf}_base;`).join('');
  return `
  if (grp >= P.ngroups) { return; }
  let row = P.rowStart + grp;${lets}`;
}

/** `for (var c = li; c < P.C; …) { body }`: this lane's channels of the row. */
export const eachChannel = (body: string) => `for (var c = li; c < P.C; c = c + ${LANES}u) {${body}}`;

/** dx += t · s at channel c, rounded once (dx's offset is `dxo`). */
export const ADD_TO_DX = 'dx[dxo + c] = df_round(df_add(vec2<f32>(dx[dxo + c], 0.0), df_mul_f(t, s)));';

/**
 * A weight-gradient kernel: per channel c, each accumulator of `sums` (e.g. `{ dw: 'aw' }`) is summed over the
 * chunk's rows by `body` (run per row r, reading `x[r * P.C + c - P.x_base]` etc.), reduced by the column tree and
 * added to the gradient buffer of the same name, rounded once.
 */
export function weightGradDef(name: string, buffers: KernelDef['buffers'], sums: Record<string, string>, body: string): KernelDef {
  const entries = Object.entries(sums);
  return {
    name,
    buffers,
    params: [['rowStart', 'u32'], ['rows', 'u32'], ['C', 'u32']],
    workgroupSize: [COLS, ROW_LANES],
    module: DF64_WGSL + entries.map(([grad]) => columnTree(`${grad}red`, COLS, ROW_LANES)).join(''),
    body: `
  let c = grp * ${COLS}u + lid.x;
  let in_range = grp < P.ngroups && c < P.C;
  ${entries.map(([, acc]) => `var ${acc} = vec2<f32>(0.0, 0.0);`).join('\n  ')}
  if (in_range) {
    for (var r = P.rowStart + lid.y; r < P.rowStart + P.rows; r = r + ${ROW_LANES}u) {${body}}
  }
  ${entries.map(([grad, acc]) => `let t_${grad} = ${grad}red_sum(lid.x, lid.y, ${acc});`).join('\n  ')}
  if (in_range && lid.y == 0u) {
    ${entries.map(([grad]) => `${grad}[c - P.${grad}_base] = df_round(df_add(vec2<f32>(${grad}[c - P.${grad}_base], 0.0), t_${grad}));`).join('\n    ')}
  }`,
  };
}

/**
 * The backward of a row normalisation over N rows of C, chunked to the device's binding limits: per chunk the
 * weight-gradient kernel (`weights.grads`: its C-long gradient buffers) then the dx kernel, both bound to the chunk's
 * rows of the `perElement` buffers (C elements a row: dout, x) and the `perRow` ones (one a row: mean, rstd).
 */
export function normBackward(
  ctx: KernelContext, N: number, C: number, dx: GpuBuffer, w: GpuBuffer, perRow: Record<string, GpuBuffer>, perElement: Record<string, GpuBuffer>,
  weights: { def: KernelDef; grads: Record<string, GpuBuffer> }, dxDef: KernelDef, dxParams: Record<string, number>,
): void {
  forEachChunk(N, rowsPerChunk(ctx.limits, C, N), (r0, nr) => {
    const rows: Record<string, Binding> = {};
    for (const [k, b] of Object.entries(perElement)) rows[k] = range(b, r0 * C, nr * C);
    for (const [k, b] of Object.entries(perRow)) rows[k] = range(b, r0, nr);
    const grads = Object.fromEntries(Object.entries(weights.grads).map(([k, b]) => [k, range(b, 0, C)]));
    launch(ctx, weights.def, { ...grads, ...rows }, { rowStart: r0, rows: nr, C }, Math.ceil(C / COLS));
    launch(ctx, dxDef, { dx: range(dx, r0 * C, nr * C), w: range(w, 0, C), ...rows }, { rowStart: r0, C, ...dxParams }, nr);
  });
}
