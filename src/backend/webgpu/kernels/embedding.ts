/**
 * Token + position embedding (GPT-2; Llama has no position table: wpe null). Forward is a gather (exact: one f32 add per element, as js). Backward is a
 * scatter-add, made deterministic without atomics: each invocation owns one (channel, vocabulary bucket) pair and
 * walks the tokens in (b, t) order, adding the rows whose token falls in its bucket — so every dwte[v, c] receives
 * its contributions in exactly js's order, one f32 add at a time (bit-identical to js). dwpe[t, c] is one invocation
 * per element looping over b in order.
 *
 * wte may exceed one binding (GPT-2: 50257 × 768 × 4 = 154 MB): the vocabulary is cut into windows of rows that
 * fit, one dispatch each; a token outside the window is skipped by that dispatch. dout/out are cut into row chunks.
 * Out-of-range token ids produce NaN rows in forward (WGSL clamps out-of-bounds reads; NaN makes the error visible).
 */
import type { GpuBuffer } from '../buffer-pool.js';
import { chunkElements } from '../limits.js';
import { elementPrologue, forEachChunk, launch, range, type KernelContext, type KernelDef } from '../kernel.js';

const WG = 256;

/** The gather; without a position table (Llama) the def has no `wpe` buffer. */
const forwardDef = (positions: boolean): KernelDef => ({
  name: positions ? 'embeddingForward' : 'embeddingForward(no wpe)',
  buffers: [
    { name: 'out', type: 'f32', write: true }, { name: 'tokens', type: 'i32' }, { name: 'wte', type: 'f32' },
    ...(positions ? [{ name: 'wpe', type: 'f32' as const }] : []),
  ],
  // Rows [rowStart, rowStart + count / C) of the (B*T, C) output; vocabulary window [v0, v1) of V.
  params: [['rowStart', 'u32'], ['count', 'u32'], ['T', 'u32'], ['C', 'u32'], ['v0', 'i32'], ['v1', 'i32'], ['V', 'i32'], ['first', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  let r = P.rowStart + i / P.C;
  let c = i % P.C;
  let tok = tokens[r - P.tokens_base];
  let o = r * P.C + c - P.out_base;
  if (tok >= P.v0 && tok < P.v1) {
    out[o] = wte[u32(tok) * P.C + c - P.wte_base]${positions ? ' + wpe[(r % P.T) * P.C + c - P.wpe_base]' : ''};
  } else if (P.first == 1u && (tok < 0 || tok >= P.V)) {
    out[o] = bitcast<f32>(0x7fc00000u ^ P.opaque_zero); // NaN (a literal NaN does not compile)
  }`,
});
const forwardPosDef = forwardDef(true), forwardTokDef = forwardDef(false);

const dwteDef: KernelDef = {
  name: 'embeddingBackward(dwte)',
  buffers: [{ name: 'dwte', type: 'f32', write: true }, { name: 'dout', type: 'f32' }, { name: 'tokens', type: 'i32' }],
  // Invocation = channel c + C * bucket; bucket b handles tokens v with v % buckets == b within [v0, v1).
  params: [['rowStart', 'u32'], ['rows', 'u32'], ['C', 'u32'], ['buckets', 'u32'], ['v0', 'i32'], ['v1', 'i32']],
  workgroupSize: [WG],
  body: `
  if (grp >= P.ngroups) { return; }
  let id = grp * ${WG}u + li;
  if (id >= P.C * P.buckets) { return; }
  let c = id % P.C;
  let bucket = i32(id / P.C);
  for (var r = P.rowStart; r < P.rowStart + P.rows; r = r + 1u) {
    let tok = tokens[r - P.tokens_base];
    if (tok >= P.v0 && tok < P.v1 && tok % i32(P.buckets) == bucket) {
      let w = u32(tok) * P.C + c - P.dwte_base;
      dwte[w] = dwte[w] + dout[r * P.C + c - P.dout_base];
    }
  }`,
};

const dwpeDef: KernelDef = {
  name: 'embeddingBackward(dwpe)',
  buffers: [{ name: 'dwpe', type: 'f32', write: true }, { name: 'dout', type: 'f32' }],
  params: [['bStart', 'u32'], ['bCount', 'u32'], ['count', 'u32'], ['T', 'u32'], ['C', 'u32']],
  workgroupSize: [WG],
  body: `${elementPrologue(WG)}
  // i = t * C + c
  var acc = dwpe[i - P.dwpe_base];
  for (var b = P.bStart; b < P.bStart + P.bCount; b = b + 1u) {
    acc = acc + dout[b * P.T * P.C + i - P.dout_base];
  }
  dwpe[i - P.dwpe_base] = acc;`,
};

/** Vocabulary windows of whole rows that fit one binding. */
function vocabWindows(ctx: KernelContext, V: number, C: number): [number, number][] {
  const rows = Math.max(1, Math.floor(chunkElements(ctx.limits) / Math.max(C, 1)));
  const out: [number, number][] = [];
  for (let v = 0; v < V; v += rows) out.push([v, Math.min(V, v + rows)]);
  return out.length ? out : [[0, 0]];
}

function vocabSize(wte: GpuBuffer, C: number, what: string): number {
  if (C <= 0) throw new RangeError(`${what}: C must be positive, got ${C}`);
  return Math.floor(wte.length / C);
}

export function embeddingForward(ctx: KernelContext, out: GpuBuffer, tokens: GpuBuffer, wte: GpuBuffer, wpe: GpuBuffer | null, B: number, T: number, C: number): void {
  const V = vocabSize(wte, C, 'embeddingForward');
  const rowsPer = Math.max(1, Math.floor(chunkElements(ctx.limits) / C));
  const windows = vocabWindows(ctx, V, C);
  forEachChunk(B * T, rowsPer, (r0, nr) => {
    windows.forEach(([v0, v1], w) => {
      // Rows r0.. cover positions t = r % T: bind wpe rows [0, T).
      const binds = { out: range(out, r0 * C, nr * C), tokens: range(tokens, r0, nr), wte: range(wte, v0 * C, (v1 - v0) * C) };
      launch(ctx, wpe ? forwardPosDef : forwardTokDef, wpe ? { ...binds, wpe: range(wpe, 0, T * C) } : binds,
        { rowStart: r0, count: nr * C, T, C, v0, v1, V, first: w === 0 ? 1 : 0 }, Math.ceil((nr * C) / WG));
    });
  });
}

export function embeddingBackward(
  ctx: KernelContext, dwte: GpuBuffer, dwpe: GpuBuffer | null, dout: GpuBuffer, tokens: GpuBuffer, B: number, T: number, C: number,
): void {
  const V = vocabSize(dwte, C, 'embeddingBackward');
  const rowsPer = Math.max(1, Math.floor(chunkElements(ctx.limits) / C));
  // More buckets = more parallel invocations, each rereading the token list; aim for a few thousand invocations.
  const buckets = Math.max(1, Math.min(64, Math.floor(4096 / C)));
  for (const [v0, v1] of vocabWindows(ctx, V, C)) {
    forEachChunk(B * T, rowsPer, (r0, nr) =>
      launch(ctx, dwteDef,
        { dwte: range(dwte, v0 * C, (v1 - v0) * C), dout: range(dout, r0 * C, nr * C), tokens: range(tokens, r0, nr) },
        { rowStart: r0, rows: nr, C, buckets, v0, v1 }, Math.ceil((C * buckets) / WG)),
    );
  }
  if (!dwpe) return;
  const batchesPer = Math.max(1, Math.floor(rowsPer / Math.max(T, 1)));
  forEachChunk(B, batchesPer, (b0, nb) =>
    launch(ctx, dwpeDef, { dwpe: range(dwpe, 0, T * C), dout: range(dout, b0 * T * C, nb * T * C) },
      { bStart: b0, bCount: nb, count: T * C, T, C }, Math.ceil((T * C) / WG)),
  );
}
