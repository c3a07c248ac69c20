/**
 * A model's state in the host tier: parameters, gradients, optimizer state, shard-boundary activations, the current
 * batch and the per-parameter squared gradient norms. Every array is a view on a SharedArrayBuffer, so device
 * workers read and write it in place (no copies through messages); the tier that allocated it keeps the accounts.
 */
import { stateNames } from '../../optim/optimizer.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import type { HostTier } from './host-tier.js';
import { ACT_SLOTS, type ModelPlacement } from './placement.js';
import { stashLayout } from '../run/activation-stash.js';
import { slotArray, slotBase, stagingLayout, type StagingLayout, type StagingSlots } from './staging.js';

/** Views a shard task reads and writes. */
export interface HostViews {
  param(name: string): Float32Array;
  grad(name: string): Float32Array;
  opt(state: string, name: string): Float32Array;
  /** Activation entering shard k (k ≥ 1). */
  act(k: number): Float32Array;
  /**
   * Gradient of the activation entering shard k (k ≥ 1): one buffer for every boundary, of the largest one's size,
   * read as the running shard's dy (k + 1) and overwritten with its dx (k).
   */
  dact(k: number): Float32Array;
  tokens(): Int32Array;
  targets(): Int32Array;
  /** Squared gradient norm per canonical parameter index, written where each gradient becomes final. */
  sumsq(): Float64Array;
  /** Whether the task steps this parameter (its optimizer state is in RAM); else the disk tier steps it. */
  stepsHere(name: string): boolean;
  /** A shard whose state lives on disk is staged in host slot `slot` for the coming task. */
  stage(shard: number, slot: number): void;
  /** A boundary whose activation lives on disk is in the model's activation slot `slot` for the coming task. */
  stageAct(k: number, slot: number): void;
  /** Shard k's activation stash (activation offload: run/activation-stash.ts); undefined where its backward recomputes. */
  stash(k: number): Float32Array | undefined;
}

/** The plain-data form sent to workers (SharedArrayBuffers are shared, not copied, by postMessage). */
export interface HostStateBuffers {
  params: Record<string, SharedArrayBuffer>;
  grads: Record<string, SharedArrayBuffer>;
  opt: Record<string, SharedArrayBuffer>;
  acts: SharedArrayBuffer[];
  dact: SharedArrayBuffer;
  tokens: SharedArrayBuffer;
  targets: SharedArrayBuffer;
  sumsq: SharedArrayBuffer;
  /**
   * Disk tier: the host slots that stage shards whose parameters live on disk (the job's pool, shared by every model
   * with shards on disk: not the model's to release), where each slot's arrays start (its block-aligned base:
   * staging.ts), and which parameters those are.
   */
  staging?: StagingSlots & { diskParams: string[] };
  /** Parameters the disk tier steps (their moments are on disk). */
  tierStepped?: string[];
  /**
   * Disk tier: the model's own activation slots (ACT_SLOTS of its largest disk boundary, block-aligned like the
   * staging slots: staging.ts actSlotBytes) that its boundaries on disk pass through (their `acts` entries are empty),
   * where each slot's content starts, and every boundary's length in elements.
   */
  actSlots?: StagingSlots & { boundaries: number[]; lengths: number[] };
  /** Activation offload: per shard, what its backward reads (empty for the last shard). */
  stash?: SharedArrayBuffer[];
}

/**
 * `placement`: what lives on disk (absent: everything in RAM); `pool`: the job's staging slots, when the placement
 * stages shards. Only RAM-resident arrays are allocated here.
 */
export function allocateHostState(rt: ModelRuntime, tier: HostTier, owner: string, placement?: ModelPlacement, pool?: StagingSlots): HostStateBuffers {
  const f32 = (n: number, what: string) => tier.alloc(n * 4, `${owner}: ${what}`);
  const params: Record<string, SharedArrayBuffer> = {};
  const grads: Record<string, SharedArrayBuffer> = {};
  const opt: Record<string, SharedArrayBuffer> = {};
  const home = (name: string) => placement?.home.get(name) ?? 'host';
  for (const p of rt.params) {
    if (home(p.spec.name) !== 'disk') {
      params[p.spec.name] = f32(p.n, `param ${p.spec.name}`);
      grads[p.spec.name] = f32(p.n, `grad ${p.spec.name}`);
    }
    if (home(p.spec.name) === 'host') for (const s of stateNames(rt.recipe.optimizer)) opt[`${s}.${p.spec.name}`] = f32(p.n, `optimizer ${s} of ${p.spec.name}`);
  }
  const diskParams = rt.params.filter((p) => home(p.spec.name) === 'disk').map((p) => p.spec.name);
  if (placement && placement.slotBytes > 0 && !(pool && pool.buffers.length > 0 && pool.buffers[0].byteLength >= placement.slotBytes)) {
    throw new Error(`host state of '${owner}': its shards on disk need staging slots of ${placement.slotBytes} bytes`);
  }
  const staging = placement && placement.slotBytes > 0 ? { buffers: pool!.buffers, bases: pool!.bases, diskParams } : undefined;
  const tierStepped = rt.params.filter((p) => home(p.spec.name) !== 'host').map((p) => p.spec.name);
  // acts[k] is the input of shard k; acts[0] is unused (shard 0 reads tokens), so is one on disk (it has slots).
  const onDisk = new Set(placement?.diskBoundaries ?? []);
  const acts = rt.shards.map((_, k) => (k === 0 || onDisk.has(k) ? new SharedArrayBuffer(0) : f32(rt.boundaryLength[k], `boundary activation ${k}`)));
  const slots = placement && onDisk.size > 0 ? Array.from({ length: ACT_SLOTS }, (_, i) => f32(placement.actSlotBytes / 4, `activation slot ${i} (boundaries on disk)`)) : [];
  const actSlots = slots.length > 0 ? { buffers: slots, bases: slots.map(slotBase), boundaries: [...onDisk], lengths: [...rt.boundaryLength] } : undefined;
  const last = rt.shards.length - 1;
  const stash = placement?.stashBytes ? rt.shards.map((_, k) => (k === last ? new SharedArrayBuffer(0) : f32(stashLayout(rt, k).elems, `activation stash of shard ${k}`))) : undefined;
  return {
    params,
    grads,
    opt,
    acts,
    dact: f32(Math.max(0, ...rt.boundaryLength), 'boundary gradient'),
    tokens: f32(rt.B * rt.T, 'batch tokens'),
    targets: f32(rt.B * rt.T, 'batch targets'),
    sumsq: tier.alloc(rt.params.length * 8, `${owner}: squared norms`),
    ...(staging ? { staging } : {}),
    ...(tierStepped.length > 0 ? { tierStepped } : {}),
    ...(actSlots ? { actSlots } : {}),
    ...(stash ? { stash } : {}),
  };
}

/** Give a model's host-tier state back to its tier (a model stopped early or by name); its views must not be used after. */
export function releaseHostState(s: HostStateBuffers, tier: HostTier): void {
  const all = [...Object.values(s.params), ...Object.values(s.grads), ...Object.values(s.opt), ...s.acts, ...(s.actSlots?.buffers ?? []), ...(s.stash ?? []), s.dact, s.tokens, s.targets, s.sumsq];
  for (const b of all) tier.release(b);
}

/** `rt` is needed only when part of the state is staged from disk (to lay out the slots). */
export function viewsOf(s: HostStateBuffers, rt?: ModelRuntime): HostViews {
  const cacheF = new Map<SharedArrayBuffer, Float32Array>();
  const f = (b: SharedArrayBuffer | undefined, what: string): Float32Array => {
    if (!b) throw new Error(`host state has no ${what}`);
    let v = cacheF.get(b);
    if (!v) cacheF.set(b, (v = new Float32Array(b)));
    return v;
  };
  const tokens = new Int32Array(s.tokens), targets = new Int32Array(s.targets), sumsq = new Float64Array(s.sumsq);
  // The boundary gradient seen at boundary k has that boundary's length (acts[k]'s, or the slots' record of it).
  const dacts = s.acts.map((a, k) => new Float32Array(s.dact, 0, s.actSlots ? s.actSlots.lengths[k] : a.byteLength / 4));
  const actOnDisk = new Set(s.actSlots?.boundaries ?? []);
  const actBound = new Map<number, number>();
  const actSlot = (k: number): Float32Array => {
    const slot = actBound.get(k);
    if (slot === undefined) throw new Error(`boundary activation ${k} lives on disk and is not in an activation slot`);
    return slotArray(s.actSlots!, slot, 0, s.actSlots!.lengths[k]);
  };
  const tierStepped = new Set(s.tierStepped ?? []);
  const stashes = (s.stash ?? []).map((b) => (b.byteLength > 0 ? new Float32Array(b) : undefined));
  let layout: StagingLayout | undefined;
  const bound = new Map<number, number>();
  if (s.staging) {
    if (!rt) throw new Error('host state: staged state needs the model runtime to lay out its slots');
    layout = stagingLayout(rt, new Set(s.staging.diskParams));
  }
  const staged = (n: string, which: 'value' | 'grad'): Float32Array | undefined => {
    const at = layout?.get(n);
    if (!at) return undefined;
    const slot = bound.get(at.shard);
    if (slot === undefined) throw new Error(`parameter '${n}' lives on disk and shard ${at.shard} is not staged in a host slot`);
    return slotArray(s.staging!, slot, which === 'value' ? at.value : at.grad, at.n);
  };
  return {
    param: (n) => staged(n, 'value') ?? f(s.params[n], `parameter '${n}'`),
    grad: (n) => staged(n, 'grad') ?? f(s.grads[n], `gradient '${n}'`),
    opt: (st, n) => f(s.opt[`${st}.${n}`], `optimizer state '${st}.${n}'`),
    act: (k) => (actOnDisk.has(k) ? actSlot(k) : f(s.acts[k], `boundary activation ${k}`)),
    dact: (k) => dacts[k] ?? f(undefined, `boundary gradient ${k}`),
    tokens: () => tokens,
    targets: () => targets,
    sumsq: () => sumsq,
    stepsHere: (n) => !tierStepped.has(n),
    stage: (shard, slot) => void bound.set(shard, slot),
    stageAct: (k, slot) => void actBound.set(k, slot),
    stash: (k) => stashes[k],
  };
}
