/**
 * GEMM: C = alpha·op(A)·op(B) + beta·C, row-major, with leading dimensions, element offsets and a batch of strided
 * problems in one launch (workgroup z = batch index).
 *
 * Tiled: a 16×16 workgroup computes a 64×64 block of C, each invocation a 4×4 register tile (rows ty + 16i,
 * columns tx + 16j). Per step of 16 along K the workgroup stages a 64×16 slab of op(A) and a 16×64 slab of op(B) in
 * workgroup memory, each global element read once per workgroup, loads coalesced along the operand's contiguous
 * dimension whatever the transposes. Every C element is one invocation's sum over K in a fixed order (per slab of
 * 16, then slab sums in order): deterministic.
 *
 * Few output tiles, long K (the LM head's input gradient: 64×768 = K 50257, or dX of any thin layer): one
 * workgroup per tile would walk all of K alone while the rest of the GPU idles. Such problems are split along K
 * ("split-K") into S chunks, multiples of 16, chosen from the shape only: launch 1 writes each chunk's partial tile
 * to a scratch buffer (grid z = batch × S), launch 2 sums the S partials of every element in chunk order and applies
 * alpha and beta. Still deterministic (the split depends on nothing but the shape).
 *
 * Large operands: when a window of A, B or C exceeds the binding limit (GPT-2's 50257×768 embedding used as the LM
 * head is 154 MB; llvmpipe binds 128 MiB), the problem is split in halves along the dimension that indexes the
 * operand's rows — M or N (independent pieces) or K (the second half accumulates with beta = 1) — until it fits.
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { fitsBinding, WebGpuLimitError } from '../limits.js';
import { launch, type KernelContext, type KernelDef } from '../kernel.js';

const TILE = 64, TK = 16, WG = 16, REG = TILE / WG;

export interface GemmProblem {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
  offA: number;
  offB: number;
  offC: number;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

const defs = new Map<string, KernelDef>();
function gemmDef(transA: boolean, transB: boolean): KernelDef {
  const key = `${transA}/${transB}`;
  const hit = defs.get(key);
  if (hit) return hit;
  // Slab loads: element e of 1024 maps to (row, k) so that consecutive invocations read consecutive addresses.
  const loadA = transA
    ? `let kk = e / ${TILE}u; let mm = e % ${TILE}u; let gm = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gm < P.M && gk < kEnd) { v = A[offA + gk * P.lda + gm]; }
       As[kk * ${TILE}u + mm] = v;`
    : `let mm = e / ${TK}u; let kk = e % ${TK}u; let gm = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gm < P.M && gk < kEnd) { v = A[offA + gm * P.lda + gk]; }
       As[kk * ${TILE}u + mm] = v;`;
  const loadB = transB
    ? `let nn = e / ${TK}u; let kk = e % ${TK}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < P.N && gk < kEnd) { v = B[offB + gn * P.ldb + gk]; }
       Bs[kk * ${TILE}u + nn] = v;`
    : `let kk = e / ${TILE}u; let nn = e % ${TILE}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < P.N && gk < kEnd) { v = B[offB + gk * P.ldb + gn]; }
       Bs[kk * ${TILE}u + nn] = v;`;
  const def: KernelDef = {
    name: `gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'})`,
    buffers: [{ name: 'A', type: 'f32' }, { name: 'B', type: 'f32' }, { name: 'C', type: 'f32', write: true }],
    params: [
      ['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['lda', 'u32'], ['ldb', 'u32'], ['ldc', 'u32'],
      ['offA', 'u32'], ['offB', 'u32'], ['offC', 'u32'], ['strideA', 'u32'], ['strideB', 'u32'], ['strideC', 'u32'],
      ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'u32'], ['splits', 'u32'], ['kChunk', 'u32'], ['splitStrideC', 'u32'],
    ],
    workgroupSize: [WG, WG],
    module: `var<workgroup> As: array<f32, ${TILE * TK}>;\nvar<workgroup> Bs: array<f32, ${TILE * TK}>;\n${STORE_WGSL}`,
    body: gemmBody(loadA, loadB),
  };
  defs.set(key, def);
  return def;
}

/**
 * The kernel body with the register tile unrolled into scalar variables, so no compiler has to prove that a
 * loop-indexed per-invocation array can live in registers (when it cannot, the array goes to local memory). On
 * llvmpipe this measured the same as the loop form (~0.3 GFLOP/s at n = 512 either way); it is for real GPUs.
 */
function gemmBody(loadA: string, loadB: string): string {
  const regs: [number, number][] = [];
  for (let i = 0; i < REG; i++) for (let j = 0; j < REG; j++) regs.push([i, j]);
  const loads = (code: string) =>
    Array.from({ length: (TILE * TK) / (WG * WG) }, (_, l) => `    {\n      let e = li + ${l * WG * WG}u;\n      ${code}\n    }`).join('\n');
  return `
  // z = batch index × splits + K chunk; without split-K, splits = 1 and the one chunk is all of K.
  let z = wid.z / P.splits;
  let kBegin = (wid.z % P.splits) * P.kChunk;
  let kEnd = min(P.K, kBegin + P.kChunk);
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  let offA = P.offA + z * P.strideA - P.A_base;
  let offB = P.offB + z * P.strideB - P.B_base;
  let offC = P.offC + z * P.strideC + (wid.z % P.splits) * P.splitStrideC - P.C_base;
${regs.map(([i, j]) => `  var acc_${i}_${j} = 0.0;`).join('\n')}
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${TK}u) {
${loads(loadA)}
${loads(loadB)}
    workgroupBarrier();
    // Sum this slab apart, then add it to the total: the rounding error grows with K/16 + 16 terms instead of K.
${regs.map(([i, j]) => `    var part_${i}_${j} = 0.0;`).join('\n')}
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
${Array.from({ length: REG }, (_, i) => `      let a_${i} = As[kk * ${TILE}u + lid.y + ${WG * i}u];`).join('\n')}
${Array.from({ length: REG }, (_, j) => `      let b_${j} = Bs[kk * ${TILE}u + lid.x + ${WG * j}u];`).join('\n')}
${regs.map(([i, j]) => `      part_${i}_${j} = part_${i}_${j} + a_${i} * b_${j};`).join('\n')}
    }
${regs.map(([i, j]) => `    acc_${i}_${j} = acc_${i}_${j} + part_${i}_${j};`).join('\n')}
    workgroupBarrier();
  }
${regs.map(([i, j]) => `  store(offC, m0 + lid.y + ${WG * i}u, n0 + lid.x + ${WG * j}u, acc_${i}_${j});`).join('\n')}`;
}

/** Writes alpha·acc + beta·C; beta = 0 never reads C (it may hold NaN), as in BLAS. */
const STORE_WGSL = /* wgsl */ `
fn store(offC: u32, gm: u32, gn: u32, acc: f32) {
  if (gm < P.M && gn < P.N) {
    let ci = offC + gm * P.ldc + gn;
    if (P.betaZero == 1u) { C[ci] = P.alpha * acc; }
    else { C[ci] = P.alpha * acc + P.beta * C[ci]; }
  }
}`;

type Range = [number, number];

/** Element range each operand touches: [lo, hi). */
export function operandRanges(g: GemmProblem): { A: Range; B: Range; C: Range } {
  const span = (off: number, stride: number, rows: number, cols: number, ld: number): Range =>
    rows === 0 || cols === 0 || g.batch === 0 ? [off, off] : [off, off + (g.batch - 1) * stride + (rows - 1) * ld + cols];
  return {
    A: g.transA ? span(g.offA, g.strideA, g.K, g.M, g.lda) : span(g.offA, g.strideA, g.M, g.K, g.lda),
    B: g.transB ? span(g.offB, g.strideB, g.N, g.K, g.ldb) : span(g.offB, g.strideB, g.K, g.N, g.ldb),
    C: span(g.offC, g.strideC, g.M, g.N, g.ldc),
  };
}

/** Splits a problem until every operand window fits one binding and the batch fits one grid dimension. */
export function splitGemm(g: GemmProblem, ctx: KernelContext): GemmProblem[] {
  const r = operandRanges(g);
  const fits = (x: Range) => fitsBinding(x[0], x[1], ctx.limits);
  const over = (['A', 'B', 'C'] as const).find((k) => !fits(r[k]));
  const maxGroups = ctx.limits.maxWorkgroupsPerDimension;
  const gridTooBig = Math.ceil(g.M / TILE) > maxGroups ? 'M' : Math.ceil(g.N / TILE) > maxGroups ? 'N' : null;
  if (!over && !gridTooBig && g.batch <= maxGroups) return [g];
  if (g.batch > 1 && (over || g.batch > maxGroups)) {
    const b1 = Math.floor(g.batch / 2);
    return [
      ...splitGemm({ ...g, batch: b1 }, ctx),
      ...splitGemm({ ...g, batch: g.batch - b1, offA: g.offA + b1 * g.strideA, offB: g.offB + b1 * g.strideB, offC: g.offC + b1 * g.strideC }, ctx),
    ];
  }
  const dim = !over ? gridTooBig! : over === 'A' ? (g.transA ? 'K' : 'M') : over === 'B' ? (g.transB ? 'N' : 'K') : 'M';
  const size = g[dim];
  if (size <= 1) {
    const [lo, hi] = r[over!];
    throw new WebGpuLimitError(
      `gemm: operand ${over} needs ${(hi - lo) * 4} bytes in one binding even for a single ${dim === 'K' ? 'K slice' : 'row'} ` +
        `(leading dimension too large), above the device's storage binding limit of ${ctx.limits.maxBindingBytes} bytes`,
    );
  }
  const h = Math.floor(size / 2);
  if (dim === 'M') {
    return [
      ...splitGemm({ ...g, M: h }, ctx),
      ...splitGemm({ ...g, M: size - h, offA: g.offA + (g.transA ? h : h * g.lda), offC: g.offC + h * g.ldc }, ctx),
    ];
  }
  if (dim === 'N') {
    return [
      ...splitGemm({ ...g, N: h }, ctx),
      ...splitGemm({ ...g, N: size - h, offB: g.offB + (g.transB ? h * g.ldb : h), offC: g.offC + h }, ctx),
    ];
  }
  // K: C = alpha·A1·B1 + beta·C, then C = alpha·A2·B2 + 1·C.
  return [
    ...splitGemm({ ...g, K: h }, ctx),
    ...splitGemm({ ...g, K: size - h, beta: 1, offA: g.offA + (g.transA ? h * g.lda : h), offB: g.offB + (g.transB ? h : h * g.ldb) }, ctx),
  ];
}

/** Scratch memory for split-K partials, from the backend's pool (outside the budget, released after recording). */
export type GemmScratch = (bytes: number) => { buf: GpuBuffer; release(): void };

/** Split-K applies below this many output tiles (batch included)... */
const SPLIT_BELOW_TILES = 32;
/** ...when each chunk still has at least this much K... */
const SPLIT_MIN_CHUNK = 256;
/** ...and the partials fit this many bytes. */
const SPLIT_MAX_BYTES = 16 << 20;

/** Number of K chunks and their length (a multiple of TK) for split-K; splits = 1 means none. */
export function splitK(g: GemmProblem): { splits: number; kChunk: number } {
  const tiles = Math.ceil(g.M / TILE) * Math.ceil(g.N / TILE) * g.batch;
  const none = { splits: 1, kChunk: Math.max(g.K, 1) };
  if (tiles >= SPLIT_BELOW_TILES || g.K < 2 * SPLIT_MIN_CHUNK) return none;
  let splits = Math.min(Math.ceil((2 * SPLIT_BELOW_TILES) / tiles), Math.floor(g.K / SPLIT_MIN_CHUNK));
  splits = Math.min(splits, Math.floor(SPLIT_MAX_BYTES / (4 * g.M * g.N * g.batch)));
  if (splits < 2) return none;
  const kChunk = Math.ceil(g.K / splits / TK) * TK;
  return { splits: Math.ceil(g.K / kChunk), kChunk };
}

const reduceDef: KernelDef = {
  name: 'gemm(split-K sum)',
  buffers: [{ name: 'partial', type: 'f32' }, { name: 'C', type: 'f32', write: true }],
  params: [['M', 'u32'], ['N', 'u32'], ['ldc', 'u32'], ['offC', 'u32'], ['strideC', 'u32'], ['splits', 'u32'],
    ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'u32'], ['count', 'u32']],
  workgroupSize: [256],
  body: `
  if (grp >= P.ngroups) { return; }
  let i = grp * 256u + li;
  if (i >= P.count) { return; }
  let mn = P.M * P.N;
  let z = i / mn;
  let r = i % mn;
  let src = z * P.splits * mn + r - P.partial_base;
  var acc = 0.0;
  for (var s = 0u; s < P.splits; s = s + 1u) { acc = acc + partial[src + s * mn]; }
  let ci = P.offC + z * P.strideC + (r / P.N) * P.ldc + r % P.N - P.C_base;
  if (P.betaZero == 1u) { C[ci] = P.alpha * acc; }
  else { C[ci] = P.alpha * acc + P.beta * C[ci]; }`,
};

export function gemm(ctx: KernelContext, g: GemmProblem, A: GpuBuffer, B: GpuBuffer, C: GpuBuffer, scratch?: GemmScratch): void {
  if (g.M === 0 || g.N === 0 || g.batch === 0) return;
  for (const p of splitGemm(g, ctx)) {
    const r = operandRanges(p);
    const operands = { A: { buf: A, lo: r.A[0], hi: r.A[1] }, B: { buf: B, lo: r.B[0], hi: r.B[1] } };
    const sizes = { M: p.M, N: p.N, K: p.K, lda: p.lda, ldb: p.ldb, offA: p.offA, offB: p.offB, strideA: p.strideA, strideB: p.strideB };
    const grid = (z: number): [number, number, number] => [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE), z];
    const { splits, kChunk } = scratch ? splitK(p) : { splits: 1, kChunk: Math.max(p.K, 1) };
    if (splits === 1 || p.batch * splits > ctx.limits.maxWorkgroupsPerDimension) {
      launch(ctx, gemmDef(p.transA, p.transB), { ...operands, C: { buf: C, lo: r.C[0], hi: r.C[1] } }, {
        ...sizes, ldc: p.ldc, offC: p.offC, strideC: p.strideC, alpha: p.alpha, beta: p.beta, betaZero: p.beta === 0 ? 1 : 0,
        splits: 1, kChunk: Math.max(p.K, 1), splitStrideC: 0,
      }, grid(p.batch));
      continue;
    }
    // Partials packed as [batch][split][M][N]; every element of it is written by launch 1.
    const mn = p.M * p.N, count = p.batch * splits * mn;
    const partial = scratch!(count * 4);
    launch(ctx, gemmDef(p.transA, p.transB), { ...operands, C: { buf: partial.buf, lo: 0, hi: count } }, {
      ...sizes, ldc: p.N, offC: 0, strideC: splits * mn, alpha: 1, beta: 0, betaZero: 1, splits, kChunk, splitStrideC: mn,
    }, grid(p.batch * splits));
    launch(ctx, reduceDef, { partial: { buf: partial.buf, lo: 0, hi: count }, C: { buf: C, lo: r.C[0], hi: r.C[1] } }, {
      M: p.M, N: p.N, ldc: p.ldc, offC: p.offC, strideC: p.strideC, splits, alpha: p.alpha, beta: p.beta,
      betaZero: p.beta === 0 ? 1 : 0, count: p.batch * mn,
    }, Math.ceil((p.batch * mn) / 256));
    partial.release();
  }
}
