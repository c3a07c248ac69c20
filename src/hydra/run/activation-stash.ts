/**
 * Activation offload (`activations: 'offload'`): a shard's forward task keeps what its backward needs — every layer's
 * saved tensors and the inputs of the shard's inner layers — and copies them to the host tier (the shard's stash);
 * its backward task copies them back instead of recomputing the forward. It trades host memory and copies for the
 * recompute that gradient checkpointing at shard boundaries costs (≈ one forward of every shard but the last; PyTorch's
 * `save_on_cpu` makes the same trade). The stashed tensors are the ones the recompute would produce — the same kernels
 * on the same inputs with the same counter-based dropout masks — so training stays bitwise equal.
 *
 * Layout: what a shard's forward keeps is fixed by the layers and the batch shape, so it is found once by running the
 * forward on the accounting backend (no arithmetic) and laid out end to end: the host tier allocates exactly that,
 * and the placement counts it before anything runs.
 */
import type { DeviceBuffer, DType } from '../../backend/backend.js';
import { forwardRange, type RangeForward } from '../../nn/chain.js';
import type { RunContext, SavedTensors } from '../../nn/layer.js';
import { accountingBackend } from '../plan/accounting-backend.js';
import type { ModelRuntime } from './model-runtime.js';

/** One stashed buffer: a saved tensor of layer `layer` (`key`), or the input of inner layer `layer` (`key` null). */
export interface StashEntry {
  layer: number;
  key: string | null;
  dtype: DType;
  length: number;
  /** Element offset in the stash (unused for an alias). */
  offset: number;
  /** The same device buffer as an earlier entry (restored as one buffer, as it was one): that entry's index. -1: the shard's input. */
  alias?: number;
}

export interface StashLayout {
  entries: StashEntry[];
  /** Layers of the shard (by index) that left a saved record, even an empty one. */
  savedLayers: number[];
  /** Elements (4 bytes each) the stash holds. */
  elems: number;
}

const layouts = new WeakMap<ModelRuntime, Map<number, StashLayout>>();

/** The stash of shard k (k < last: the last shard's backward follows its forward in one task and needs none). */
export function stashLayout(rt: ModelRuntime, shard: number): StashLayout {
  let byShard = layouts.get(rt);
  if (!byShard) layouts.set(rt, (byShard = new Map()));
  let l = byShard.get(shard);
  if (!l) byShard.set(shard, (l = measureLayout(rt, shard)));
  return l;
}

/** Host bytes of a model's stashes (every shard but the last). */
export function stashBytes(rt: ModelRuntime): number {
  let elems = 0;
  for (let k = 0; k < rt.shards.length - 1; k++) elems += stashLayout(rt, k).elems;
  return elems * 4;
}

function measureLayout(rt: ModelRuntime, shard: number): StashLayout {
  const { be } = accountingBackend(true);
  const params = new Map<string, DeviceBuffer>();
  const param = (n: string) => {
    let b = params.get(n);
    if (!b) params.set(n, (b = be.alloc(rt.byName.get(n)!.n)));
    return b;
  };
  const { from, to } = rt.shards[shard];
  const input = shard === 0 ? be.alloc(rt.B * rt.T, 'i32') : be.alloc(rt.boundaryLength[shard]);
  const ctx: RunContext = { be, params: { value: param, grad: param }, B: rt.B, T: rt.T, training: true, keepForBackward: true, seed: rt.recipe.seed, step: 0, saved: new Map() };
  const entries: StashEntry[] = [];
  const seen = new Map<number, number>([[input.id, -1]]);
  let elems = 0;
  const record = (layer: number, key: string | null, b: DeviceBuffer) => {
    const alias = seen.get(b.id);
    if (alias !== undefined) return void entries.push({ layer, key, dtype: b.dtype, length: b.length, offset: 0, alias });
    seen.set(b.id, entries.length);
    entries.push({ layer, key, dtype: b.dtype, length: b.length, offset: elems });
    elems += b.length;
  };
  forwardRange(ctx, rt.model.layers, from, to, input, (i, x) => eachKept(ctx, rt, i, from, x, record));
  const savedLayers = [...ctx.saved.keys()].map((l) => l.index);
  return { entries, savedLayers, elems };
}

/**
 * What the backward of layer i (of a shard starting at `from`) reads, in stash order, once its forward has run with
 * input x: its input unless it is the shard's (the caller's, restored from the boundary), then its saved tensors.
 */
function eachKept(ctx: RunContext, rt: ModelRuntime, i: number, from: number, x: DeviceBuffer, f: (layer: number, key: string | null, b: DeviceBuffer) => void): void {
  if (i > from) f(i, null, x);
  for (const [key, v] of Object.entries(ctx.saved.get(rt.model.layers[i]) ?? {})) {
    if (typeof v === 'number') throw new Error(`layer ${rt.model.layers[i].name} saves a number ('${key}') for its backward: activation offload stashes only buffers`);
    f(i, key, v);
  }
}

export type StashCopy = (b: DeviceBuffer, host: Float32Array | Int32Array) => Promise<void>;

function hostView(stash: Float32Array, e: StashEntry): Float32Array | Int32Array {
  // The partitioner's dry run passes an empty stash: its accounting backend copies nothing.
  if (stash.length === 0) return e.dtype === 'i32' ? new Int32Array(0) : stash;
  return e.dtype === 'i32' ? new Int32Array(stash.buffer, stash.byteOffset + e.offset * 4, e.length) : stash.subarray(e.offset, e.offset + e.length);
}

/** Frees each distinct buffer of `bufs` once (an alias repeats one), except the caller's (`keep`). */
function freeDistinct(ctx: RunContext, bufs: DeviceBuffer[], keep: DeviceBuffer[]): void {
  const freed = new Set<number>(keep.map((b) => b.id));
  for (const b of bufs) if (!freed.has(b.id)) freed.add(b.id), ctx.be.free(b);
}

/** Settle every copy, then run `cleanUp`, then throw the first copy's error (nothing leaks, nothing is left in flight). */
async function settle(copies: Promise<void>[], cleanUp: () => void): Promise<void> {
  const results = await Promise.allSettled(copies);
  cleanUp();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Writes shard `shard`'s stash during its keeping forward: `afterLayer` (forwardRange's hook) starts copying each
 * layer's share as soon as the layer has run, so the copies (cpu: libuv threads; webgpu: the queue) overlap the next
 * layers' compute; `finish` waits for them and frees what was copied (the shard's input and output stay the caller's).
 */
export function stashWriter(ctx: RunContext, rt: ModelRuntime, shard: number, stash: Float32Array, copyOut: StashCopy) {
  const layout = stashLayout(rt, shard);
  const { from, to } = rt.shards[shard];
  const found: DeviceBuffer[] = [];
  const copies: Promise<void>[] = [];
  const take = (layer: number, key: string | null, b: DeviceBuffer) => {
    const e = layout.entries[found.length];
    if (!e || e.layer !== layer || e.key !== key || e.length !== b.length || e.dtype !== b.dtype) {
      throw new Error(`shard ${shard}: layer ${rt.model.layers[layer].name} kept '${key ?? 'input'}' (${b.length} ${b.dtype}) where its stash layout has ${e ? `'${e.key ?? 'input'}' of layer ${rt.model.layers[e.layer].name}` : 'nothing'} (stash layout bug)`);
    }
    found.push(b);
    if (e.alias === undefined) {
      const copy = copyOut(b, hostView(stash, e));
      copy.catch(() => undefined); // awaited by finish(); a forward that throws first must not leave it unhandled
      copies.push(copy);
    }
  };
  return {
    afterLayer: (i: number, x: DeviceBuffer): void => eachKept(ctx, rt, i, from, x, take),
    async finish(fwd: RangeForward): Promise<void> {
      if (found.length !== layout.entries.length) throw new Error(`shard ${shard} [${from}, ${to}): its forward kept ${found.length} of the ${layout.entries.length} buffers of its stash layout (stash layout bug)`);
      await settle(copies, () => {
        freeDistinct(ctx, found, [fwd.inputs[0], fwd.output]);
        ctx.saved.clear();
      });
    },
  };
}

/**
 * Before the backward of shard `shard`: restore its layers' saved tensors into ctx.saved and return the inputs of its
 * layers (inputs[0] is `input`, the shard's own), as the keeping forward left them. The copies are started last layer
 * first and not awaited: the backward starts at once and each kernel waits for its own buffers' copies (a backend
 * runs transfers and kernels on one buffer in call order), so copying overlaps the backward. Await `copied` after it.
 */
export function stashIn(ctx: RunContext, rt: ModelRuntime, shard: number, input: DeviceBuffer, stash: Float32Array, copyIn: StashCopy): { inputs: DeviceBuffer[]; copied: Promise<void> } {
  const layout = stashLayout(rt, shard);
  const { from, to } = rt.shards[shard];
  const bufs: DeviceBuffer[] = []; // by entry: an alias's is the buffer it aliases
  const saved = new Map<number, SavedTensors>(layout.savedLayers.map((i) => [i, {}]));
  const inputs: DeviceBuffer[] = [input];
  try {
    for (const e of layout.entries) {
      const b = e.alias === undefined ? ctx.be.alloc(e.length, e.dtype) : e.alias < 0 ? input : bufs[e.alias];
      bufs.push(b);
      if (e.key === null) inputs.push(b);
      else saved.get(e.layer)![e.key] = b;
    }
  } catch (err) {
    freeDistinct(ctx, bufs, [input]);
    throw err;
  }
  const copies: Promise<void>[] = [];
  for (let i = layout.entries.length - 1; i >= 0; i--) {
    const e = layout.entries[i];
    if (e.alias === undefined) copies.push(copyIn(bufs[i], hostView(stash, e)));
  }
  for (const [i, s] of saved) ctx.saved.set(rt.model.layers[i], s);
  if (inputs.length !== to - from) throw new Error(`shard ${shard}: the stash restored ${inputs.length} layer inputs for ${to - from} layers (stash layout bug)`);
  // Observed here so a failed copy is never an unhandled rejection while the backward runs; the caller awaits it.
  const copied = settle(copies, () => undefined);
  copied.catch(() => undefined);
  return { inputs, copied };
}
