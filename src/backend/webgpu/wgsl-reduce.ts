/**
 * Workgroup reductions of df64 values (see wgsl-df64.ts) by a fixed binary tree: the same additions in the same
 * order on every run, whatever the scheduling — the determinism the Backend contract asks of every reduction.
 * Callers must reach these functions in uniform control flow (every invocation of the workgroup calls them).
 */

/**
 * `fn <name>_sum(li, v) -> vec2<f32>`: the sum of v over the `lanes` invocations of a 1-D workgroup (li = local
 * index), returned to every invocation.
 */
export function rowTree(name: string, lanes: number): string {
  return /* wgsl */ `
var<workgroup> ${name}: array<vec2<f32>, ${lanes}>;
fn ${name}_sum(li: u32, v: vec2<f32>) -> vec2<f32> {
  ${name}[li] = v;
  for (var s = ${lanes / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (li < s) { ${name}[li] = df_add(${name}[li], ${name}[li + s]); }
  }
  workgroupBarrier();
  let total = ${name}[0];
  workgroupBarrier();
  return total;
}
`;
}

/**
 * `fn <name>_sum(lx, ly, v) -> vec2<f32>`: in a (cols × lanes) workgroup, the sum of v over the `lanes`
 * invocations sharing column lx, returned to all of them.
 */
export function columnTree(name: string, cols: number, lanes: number): string {
  return /* wgsl */ `
var<workgroup> ${name}: array<vec2<f32>, ${cols * lanes}>;
fn ${name}_sum(lx: u32, ly: u32, v: vec2<f32>) -> vec2<f32> {
  ${name}[ly * ${cols}u + lx] = v;
  for (var s = ${lanes / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (ly < s) { ${name}[ly * ${cols}u + lx] = df_add(${name}[ly * ${cols}u + lx], ${name}[(ly + s) * ${cols}u + lx]); }
  }
  workgroupBarrier();
  let total = ${name}[lx];
  workgroupBarrier();
  return total;
}
`;
}

/**
 * `fn max_all(li, v) -> f32`: the maximum of v over the `lanes` invocations of a 1-D workgroup, returned to every
 * invocation (max is exact, so the order does not matter; the tree is still fixed).
 */
export function maxTree(lanes: number): string {
  return /* wgsl */ `
var<workgroup> mx: array<f32, ${lanes}>;
fn max_all(li: u32, v: f32) -> f32 {
  mx[li] = v;
  for (var s = ${lanes / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (li < s) { mx[li] = max(mx[li], mx[li + s]); }
  }
  workgroupBarrier();
  let m = mx[0];
  workgroupBarrier();
  return m;
}
`;
}
