/**
 * GEMM: C = alpha·op(A)·op(B) + beta·C, row-major, with leading dimensions, element offsets and a batch of strided
 * problems in one launch (workgroup z = batch index).
 *
 * Tiled: a 16×16 workgroup computes a 64×64 block of C, each invocation a 4×4 register tile (rows ty + 16i,
 * columns tx + 16j). Per step of 16 along K the workgroup stages a 64×16 slab of op(A) and a 16×64 slab of op(B) in
 * workgroup memory, each global element read once per workgroup, loads coalesced along the operand's contiguous
 * dimension whatever the transposes. Every C element is one invocation's sum over K in order: deterministic.
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
       var v = 0.0; if (gm < P.M && gk < P.K) { v = A[offA + gk * P.lda + gm]; }
       As[kk * ${TILE}u + mm] = v;`
    : `let mm = e / ${TK}u; let kk = e % ${TK}u; let gm = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gm < P.M && gk < P.K) { v = A[offA + gm * P.lda + gk]; }
       As[kk * ${TILE}u + mm] = v;`;
  const loadB = transB
    ? `let nn = e / ${TK}u; let kk = e % ${TK}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < P.N && gk < P.K) { v = B[offB + gn * P.ldb + gk]; }
       Bs[kk * ${TILE}u + nn] = v;`
    : `let kk = e / ${TILE}u; let nn = e % ${TILE}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < P.N && gk < P.K) { v = B[offB + gk * P.ldb + gn]; }
       Bs[kk * ${TILE}u + nn] = v;`;
  const def: KernelDef = {
    name: `gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'})`,
    buffers: [{ name: 'A', type: 'f32' }, { name: 'B', type: 'f32' }, { name: 'C', type: 'f32', write: true }],
    params: [
      ['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['lda', 'u32'], ['ldb', 'u32'], ['ldc', 'u32'],
      ['offA', 'u32'], ['offB', 'u32'], ['offC', 'u32'], ['strideA', 'u32'], ['strideB', 'u32'], ['strideC', 'u32'],
      ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'u32'],
    ],
    workgroupSize: [WG, WG],
    module: `var<workgroup> As: array<f32, ${TILE * TK}>;\nvar<workgroup> Bs: array<f32, ${TILE * TK}>;`,
    body: `
  let z = wid.z;
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  let offA = P.offA + z * P.strideA - P.A_base;
  let offB = P.offB + z * P.strideB - P.B_base;
  let offC = P.offC + z * P.strideC - P.C_base;
  var acc: array<f32, ${REG * REG}>;
  for (var r = 0u; r < ${REG * REG}u; r = r + 1u) { acc[r] = 0.0; }
  for (var k0 = 0u; k0 < P.K; k0 = k0 + ${TK}u) {
    for (var l = 0u; l < ${(TILE * TK) / (WG * WG)}u; l = l + 1u) {
      let e = li + l * ${WG * WG}u;
      ${loadA}
    }
    for (var l = 0u; l < ${(TILE * TK) / (WG * WG)}u; l = l + 1u) {
      let e = li + l * ${WG * WG}u;
      ${loadB}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      var a: array<f32, ${REG}>;
      var b: array<f32, ${REG}>;
      for (var i = 0u; i < ${REG}u; i = i + 1u) {
        a[i] = As[kk * ${TILE}u + lid.y + ${WG}u * i];
        b[i] = Bs[kk * ${TILE}u + lid.x + ${WG}u * i];
      }
      for (var i = 0u; i < ${REG}u; i = i + 1u) {
        for (var j = 0u; j < ${REG}u; j = j + 1u) {
          acc[i * ${REG}u + j] = acc[i * ${REG}u + j] + a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${REG}u; i = i + 1u) {
    let gm = m0 + lid.y + ${WG}u * i;
    for (var j = 0u; j < ${REG}u; j = j + 1u) {
      let gn = n0 + lid.x + ${WG}u * j;
      if (gm < P.M && gn < P.N) {
        let ci = offC + gm * P.ldc + gn;
        // beta = 0 never reads C (it may hold NaN), as in BLAS.
        if (P.betaZero == 1u) { C[ci] = P.alpha * acc[i * ${REG}u + j]; }
        else { C[ci] = P.alpha * acc[i * ${REG}u + j] + P.beta * C[ci]; }
      }
    }
  }`,
  };
  defs.set(key, def);
  return def;
}

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

export function gemm(ctx: KernelContext, g: GemmProblem, A: GpuBuffer, B: GpuBuffer, C: GpuBuffer): void {
  if (g.M === 0 || g.N === 0 || g.batch === 0) return;
  for (const p of splitGemm(g, ctx)) {
    const r = operandRanges(p);
    launch(
      ctx, gemmDef(p.transA, p.transB),
      { A: { buf: A, lo: r.A[0], hi: r.A[1] }, B: { buf: B, lo: r.B[0], hi: r.B[1] }, C: { buf: C, lo: r.C[0], hi: r.C[1] } },
      {
        M: p.M, N: p.N, K: p.K, lda: p.lda, ldb: p.ldb, ldc: p.ldc, offA: p.offA, offB: p.offB, offC: p.offC,
        strideA: p.strideA, strideB: p.strideB, strideC: p.strideC, alpha: p.alpha, beta: p.beta, betaZero: p.beta === 0 ? 1 : 0,
      },
      [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE), p.batch],
    );
  }
}
