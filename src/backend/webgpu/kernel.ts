/**
 * Kernel definitions and their launch: one place that turns "run this WGSL over these buffers with these numbers"
 * into a pipeline, a bind group within the device limits, a uniform slot and a dispatch.
 *
 * A definition names its buffers and scalar parameters; the WGSL body refers to a buffer by its name, to parameter
 * p as `P.p`, and to a buffer's window start as `P.<name>_base` (see limits.ts: kernels bind aligned windows).
 * Built-ins available in the body: gid, lid, wid, nwg (vec3<u32>), li (local index) and `grp` — the linear
 * workgroup index of a 1-D launch folded into 2-D (kernels must return when grp >= P.ngroups).
 *
 * Aliasing: WebGPU forbids two writable bindings of overlapping ranges of one buffer in a dispatch, and a buffer
 * bound both writable and read-only. When a call passes the same buffer for several names (add(out, out, b),
 * cross-entropy backward writing dlogits over logits), they become one binding covering the union of their ranges,
 * and the source is rewritten to use one name for all of them.
 */
/// <reference types="@webgpu/types" />
import type { GpuBuffer } from './buffer-pool.js';
import { bindingWindow, foldWorkgroups, WebGpuLimitError, type KernelLimits } from './limits.js';
import type { PipelineCache } from './pipelines.js';
import type { CommandRecorder } from './recorder.js';

export type Scalar = 'u32' | 'i32' | 'f32';

export interface BufferDecl {
  name: string;
  /** Element type as the shader sees it (copy/fill use u32 to move bits of either dtype). */
  type: Scalar;
  write?: boolean;
}

export interface KernelDef {
  name: string;
  buffers: BufferDecl[];
  params: [string, Scalar][];
  workgroupSize: [number, number?, number?];
  /** Module-scope WGSL (helper functions, workgroup arrays, constants). */
  module?: string;
  /** Body of `main`. */
  body: string;
}

/** A buffer argument: the elements [lo, hi) the dispatch may touch. */
export interface Binding {
  buf: GpuBuffer;
  lo: number;
  hi: number;
}

export interface KernelContext {
  device: GPUDevice;
  limits: KernelLimits;
  pipelines: PipelineCache;
  recorder: CommandRecorder;
}

const sources = new WeakMap<KernelDef, Map<string, string>>();

/** WGSL source of `def` with the names in `alias` (name -> representative) merged. */
export function kernelSource(def: KernelDef, alias: Map<string, string>): string {
  const key = [...alias].map(([a, b]) => `${a}=${b}`).join(',');
  let perDef = sources.get(def);
  if (!perDef) sources.set(def, (perDef = new Map()));
  const hit = perDef.get(key);
  if (hit) return hit;
  const fields = [...def.params.map(([n, t]) => `  ${n}: ${t},`), ...def.buffers.map((b) => `  ${b.name}_base: u32,`), '  ngroups: u32,', '  opaque_zero: u32,'];
  const decls: string[] = [];
  let binding = 1;
  for (const b of def.buffers) {
    if (alias.has(b.name)) continue;
    const writes = b.write || def.buffers.some((o) => alias.get(o.name) === b.name && o.write);
    decls.push(`@group(0) @binding(${binding++}) var<storage, ${writes ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`);
  }
  let code = `${def.module ?? ''}\n@compute @workgroup_size(${def.workgroupSize.map((v) => v ?? 1).join(', ')})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let grp = wid.x + wid.y * nwg.x;
${def.body}
}`;
  for (const [name, rep] of alias) code = code.replace(new RegExp(`(?<![\\w.])${name}(?!\\w)`, 'g'), rep);
  const src = `// ${def.name}\nstruct Params {\n${fields.join('\n')}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n${decls.join('\n')}\n${code}\n`;
  perDef.set(key, src);
  return src;
}

const words = new ArrayBuffer(256);
const u32 = new Uint32Array(words);
const i32 = new Int32Array(words);
const f32 = new Float32Array(words);

/**
 * Records one dispatch of `def`. `groups` is a workgroup count (1-D, folded into 2-D when above 65535) or an
 * explicit [x, y, z] grid.
 */
export function launch(
  ctx: KernelContext, def: KernelDef, binds: Record<string, Binding>, params: Record<string, number>,
  groups: number | [number, number, number],
): void {
  // Group the names by the GPUBuffer they use; the first name of each group is its representative.
  const alias = new Map<string, string>();
  const union = new Map<string, { lo: number; hi: number }>();
  const repOf = new Map<GPUBuffer, string>();
  for (const b of def.buffers) {
    const arg = binds[b.name];
    if (!arg) throw new Error(`${def.name}: missing buffer '${b.name}'`);
    const rep = repOf.get(arg.buf.gpu);
    if (rep === undefined) {
      repOf.set(arg.buf.gpu, b.name);
      union.set(b.name, { lo: arg.lo, hi: arg.hi });
    } else {
      alias.set(b.name, rep);
      const u = union.get(rep)!;
      // An empty range adds nothing to the window.
      if (arg.hi > arg.lo) {
        if (u.hi <= u.lo) Object.assign(u, { lo: arg.lo, hi: arg.hi });
        else Object.assign(u, { lo: Math.min(u.lo, arg.lo), hi: Math.max(u.hi, arg.hi) });
      }
    }
  }
  if (union.size > ctx.limits.maxStorageBuffersPerStage) {
    throw new WebGpuLimitError(`${def.name}: needs ${union.size} storage buffers, the device allows ${ctx.limits.maxStorageBuffersPerStage} per shader stage`);
  }
  const entries: GPUBindGroupEntry[] = [];
  const bases = new Map<string, number>();
  let binding = 1;
  for (const b of def.buffers) {
    if (alias.has(b.name)) continue;
    const arg = binds[b.name];
    const range = union.get(b.name)!;
    const names = [b.name, ...[...alias].filter(([, r]) => r === b.name).map(([n]) => n)].join('/');
    const w = bindingWindow(def.name, names, arg.buf.bytes, arg.buf.capacity, range.lo, range.hi, ctx.limits);
    entries.push({ binding: binding++, resource: { buffer: arg.buf.gpu, offset: w.offset, size: w.size } });
    bases.set(b.name, w.base);
  }
  let k = 0;
  for (const [name, type] of def.params) {
    const v = params[name];
    if (v === undefined) throw new Error(`${def.name}: missing parameter '${name}'`);
    if (type === 'f32') f32[k++] = v;
    else if (type === 'i32') i32[k++] = v;
    else u32[k++] = v >>> 0;
  }
  for (const b of def.buffers) u32[k++] = bases.get(alias.get(b.name) ?? b.name)!;
  let grid: [number, number, number];
  if (typeof groups === 'number') {
    const [x, y] = foldWorkgroups(groups, ctx.limits);
    grid = [x, y, 1];
    u32[k++] = groups;
  } else {
    for (const g of groups) {
      if (g > ctx.limits.maxWorkgroupsPerDimension) throw new WebGpuLimitError(`${def.name}: ${g} workgroups in one dimension exceed ${ctx.limits.maxWorkgroupsPerDimension}`);
    }
    grid = groups;
    u32[k++] = groups[0] * groups[1] * groups[2];
  }
  u32[k++] = 0; // opaque_zero (wgsl-df64.ts)
  if (grid[0] * grid[1] * grid[2] === 0) return;
  const source = kernelSource(def, alias);
  const { pipeline, layout } = ctx.pipelines.get(source, 'main', def.name);
  ctx.recorder.dispatch(pipeline, layout, entries, u32.slice(0, k), grid, def.name);
}

/** Calls fn(start, count) over [0, total) in chunks of at most `chunk` (a 1-D kernel's binding-sized pieces). */
export function forEachChunk(total: number, chunk: number, fn: (start: number, count: number) => void): void {
  for (let start = 0; start < total; start += chunk) fn(start, Math.min(chunk, total - start));
}

/** Binding of elements [lo, lo + count) of buf. */
export function range(buf: GpuBuffer, lo: number, count: number): Binding {
  return { buf, lo, hi: lo + count };
}

/** WGSL prologue of a 1-D kernel with WG threads: `i` is the chunk-relative index, returns past the end. */
export function elementPrologue(wg: number): string {
  return `  if (grp >= P.ngroups) { return; }
  let i = grp * ${wg}u + li;
  if (i >= P.count) { return; }`;
}
