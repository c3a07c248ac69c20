/**
 * The placement policy: which tier each array of each model's state lives in when the host cap cannot hold it all.
 *
 * Always in RAM: batches (B × T tokens and targets, 1/n_embd of one boundary activation, made in RAM by the loader),
 * the boundary gradient (one buffer, written by each backward task and read by the very next one), the squared-norm
 * table, and the values and gradient of parameters used by more than one shard (tied embeddings: their gradient is
 * summed over two tasks, in two shards' staging slots); their optimizer moments may go to disk like any other's.
 *
 * What may move is priced by what it would cost per training step, per byte of RAM it frees:
 *   - a parameter's optimizer moments: read and written once per step, by the optimizer only (1 read per byte);
 *   - a shard's parameter values and gradients (its moments with them): the values are read at every visit of the
 *     shard (twice per step, F and B; once for the last shard, FL), written once after the step; with global-norm
 *     clipping the gradient is written after the backward and read again, with the values, by the step.
 * What stays in RAM is what is read most per byte: items move to disk in order of reads per byte freed (then writes),
 * until the plan fits the cap. A shard on disk is staged through host slots while its tasks run; the slots are one
 * pool for the whole job, SLOTS_PER_DEVICE per device (a device runs one task at a time: its task's slot, the next
 * shard being read, one being stepped and written back; more in flight wait for a slot), of the largest disk shard's
 * size. The pool's size depends on which shards go, so every candidate slot size is tried (none, or each shard's) and
 * the one that fits with the least disk traffic per step is kept.
 * The step of state on disk streams through a bounded chunk buffer (tier/disk-step.ts).
 *
 * Boundary activations go last, after every moment and every shard the slot size being tried lets move (issue 12's
 * policy: they are what is read most per byte — act(k) by F k and by B k, every step — and written every step too). A model's boundaries on disk
 * pass through ACT_SLOTS host slots of its own (disk-boundaries.ts): a forward writes its output into one while it
 * reads its input from the other, and the backward finds the two highest boundaries still there. So boundaries go to
 * disk from the top down: the last two cost no disk traffic (never written: read back from the slots); each one
 * below is written by its forward and read once by its backward (read ahead while the backward above it runs). Moving
 * them pays only when they free more than the slots take: a model's are eligible when their sum exceeds ACT_SLOTS
 * times the largest (with its alignment padding: staging.ts actSlotBytes).
 */
import type { ModelRuntime } from '../run/model-runtime.js';
import { stateNames } from '../../optim/optimizer.js';
import { formatBytes } from '../units.js';
import { ALIGN } from './scratch-file.js';
import { actSlotBytes, stagingSlotBytes } from './staging.js';

export type ParamHome = 'host' | 'moments-on-disk' | 'disk';

/** Host staging slots per device: its running task's, the next shard being read, one being stepped and written back. */
export const SLOTS_PER_DEVICE = 3;
/** Host slots a model's boundary activations on disk pass through: the running task's input and its output. */
export const ACT_SLOTS = 2;
/** Elements per chunk of a streamed optimizer step. */
export const STEP_CHUNK = 1 << 20;

export interface ModelPlacement {
  model: string;
  home: Map<string, ParamHome>;
  /** Shards whose parameters and gradients live on disk, ascending. */
  diskShards: number[];
  /** Its boundaries between shards (shards - 1). */
  boundaries: number;
  /** Boundaries (k ≥ 1: the activation entering shard k) whose activation lives on disk, ascending (a top run). */
  diskBoundaries: number[];
  /** Bytes of each of its ACT_SLOTS activation slots (its largest disk boundary, block-aligned: staging.ts); 0 without disk boundaries. */
  actSlotBytes: number;
  /** Bytes its largest disk shard takes in a staging slot (parameters + gradients, block-aligned: staging.ts); 0 without disk shards. */
  slotBytes: number;
  /** Bytes the model itself holds in RAM (the job's staging pool and chunk buffer are counted in JobPlacement). */
  hostBytes: number;
  /** Bytes of its scratch file, of which the gradients (the file's last part: written only with clipping). */
  diskBytes: number;
  diskGradBytes: number;
  /** Predicted disk traffic of one training step. */
  readPerStep: number;
  writePerStep: number;
  /** Bytes of its activation stashes (activation-offload.ts); absent: its backward tasks recompute. */
  stashBytes?: number;
}

/** A job's staging pool: `count` host slots of `slotBytes` each, shared by every model with shards on disk. */
export interface StagingSize {
  slotBytes: number;
  count: number;
}

export interface JobPlacement {
  models: ModelPlacement[];
  /** The chunk buffer streamed steps need (elements per array, arrays per set); null when nothing is on disk. */
  chunk: { elems: number; arrays: number } | null;
  /** Bytes of a new chunk buffer to allocate (0 when none is needed or the held one suffices). */
  chunkBytes: number;
  /** The staging pool these models use; null when no shard is on disk. */
  staging: StagingSize | null;
  /** Bytes of a new staging pool to allocate (0 when none is needed or the held one suffices). */
  stagingBytes: number;
  hostBytes: number;
  diskBytes: number;
  readPerStep: number;
  writePerStep: number;
  /** The least the host tier could hold with every movable byte on disk (under the best slot size). */
  hostFloor: number;
  /** What was chosen and why, in words, for the plan. */
  reasons: string[];
}

/** What the job already holds (models added to a running job share it when it is large enough). */
export interface HeldBuffers {
  chunk: { elems: number; arrays: number } | null;
  staging: StagingSize | null;
}

/** Host bytes a model holds whatever the placement (batches, the boundary gradient, norms). */
export function fixedHostBytes(rt: ModelRuntime): number {
  return Math.max(0, ...rt.boundaryLength) * 4 + 2 * rt.B * rt.T * 4 + rt.params.length * 8;
}

/** Bytes of a model's boundary activations (k ≥ 1), all in RAM. */
export function boundaryBytes(rt: ModelRuntime): number {
  return rt.boundaryLength.reduce((a, n) => a + n * 4, 0);
}

/** Bytes of a chunk buffer: two sets (one stepped and written while the other is read). */
export function chunkBufferBytes(c: { elems: number; arrays: number }): number {
  return 2 * c.arrays * c.elems * 4;
}

/** Bytes a parameter's array takes in a scratch file: every array starts at an aligned offset (scratch-file.ts). */
const onDiskBytes = (n: number) => Math.ceil((4 * n) / ALIGN) * ALIGN;

interface Model {
  name: string;
  rt: ModelRuntime;
  states: number;
  clipping: boolean;
}

/** Something that may go to disk: its RAM freed and the disk traffic it adds per step. */
interface Item {
  m: number;
  kind: 'moments' | 'shard' | 'boundary';
  /** The parameter (moments), the shard (values and gradients of its one-shard parameters), or the boundary. */
  param?: string;
  shard?: number;
  boundary?: number;
  /** For a shard: the moments it takes to disk with it (items of kind 'moments'). */
  needs: Item[];
  freed: number;
  read: number;
  write: number;
  /** Bytes of a staging slot the shard needs, its alignment padding included (0 for moments and boundaries). */
  slot: number;
}

function itemsOf(models: Model[]): Item[] {
  const out: Item[] = [];
  models.forEach((md, m) => {
    const { rt, states: S } = md;
    const moments = new Map<string, Item>();
    if (S > 0) {
      for (const p of rt.params) {
        const it: Item = { m, kind: 'moments', param: p.spec.name, needs: [], freed: S * 4 * p.n, read: S * 4 * p.n, write: S * 4 * p.n, slot: 0 };
        moments.set(p.spec.name, it);
        out.push(it);
      }
    }
    const last = rt.shards.length - 1;
    rt.shardParams.forEach((ps, k) => {
      const mine = ps.filter((p) => p.shards.length === 1);
      if (mine.length === 0) return;
      let n = 0;
      for (const p of mine) n += p.n;
      const b = 4 * n, visits = k === last ? 1 : 2; // FL, or F and B
      // Each visit reads the values; the step writes them back. Clipping: the gradient goes to disk after the
      // backward, and the step reads it and the values again.
      const read = visits * b + (md.clipping ? 2 * b : 0), write = b + (md.clipping ? b : 0);
      const slot = stagingSlotBytes(mine.map((p) => p.n));
      out.push({ m, kind: 'shard', shard: k, needs: mine.flatMap((p) => (moments.has(p.spec.name) ? [moments.get(p.spec.name)!] : [])), freed: 2 * b, read, write, slot });
    });
    // Boundaries from the top down, each needing the one above it. The top two stay in the activation slots from
    // the forward that writes them to the backward that reads them; each lower one is written and read back once.
    const lens = rt.boundaryLength.slice(1);
    if (4 * lens.reduce((a, n) => a + n, 0) > actSlotsBytes(4 * Math.max(0, ...lens))) {
      let above: Item | null = null;
      for (let k = last; k >= 1; k--) {
        const b = 4 * rt.boundaryLength[k], io = k >= last - 1 ? 0 : b;
        const it: Item = { m, kind: 'boundary', boundary: k, needs: above ? [above] : [], freed: b, read: io, write: io, slot: 0 };
        out.push(it);
        above = it;
      }
    }
  });
  return out;
}

/**
 * Boundary activations after everything else; then per byte freed: reads first (what stays in RAM is what is read
 * most per byte), then writes.
 */
function byCost(a: Item, b: Item): number {
  const late = (it: Item) => (it.kind === 'boundary' ? 1 : 0);
  return late(a) - late(b) || a.read / a.freed - b.read / b.freed || a.write / a.freed - b.write / b.freed || b.freed - a.freed;
}

/** Host bytes of the activation slots of one model whose disk boundaries' largest is `largest` bytes (padding included). */
const actSlotsBytes = (largest: number) => ACT_SLOTS * actSlotBytes(largest);

interface Choice {
  taken: Set<Item>;
  staging: StagingSize | null;
  stagingBytes: number;
  host: number;
  read: number;
  write: number;
}

/**
 * The placement under one largest slot size `slotMax` (0: no shard on disk): items in order of cost until the job fits
 * `cap` (Infinity-cap: none; -1: everything eligible, for the floor).
 */
function choose(items: Item[], slotMax: number, cap: number, devices: number, base: number, chunkBytes: number, held: StagingSize | null): Choice {
  const taken = new Set<Item>();
  let host = base, read = 0, write = 0;
  const withShards = new Set<number>();
  /** Per model: its largest boundary on disk (its activation slots' size). */
  const actSlot = new Map<number, number>();
  const pool = (slot: number, nModels: number): StagingSize | null => (slot > 0 ? { slotBytes: slot, count: SLOTS_PER_DEVICE * Math.min(devices, nModels) } : null);
  const poolBytes = (s: StagingSize | null) => (s === null || (held && held.slotBytes >= s.slotBytes && held.count >= s.count) ? 0 : s.slotBytes * s.count);
  // While choosing, the pool counts as if every model that could stage a shard did (the most it can cost).
  const eligible = items.filter((it) => it.kind === 'moments' || it.slot <= slotMax);
  const bound = poolBytes(pool(slotMax, new Set(eligible.filter((it) => it.kind === 'shard').map((it) => it.m)).size));
  const fits = () => cap >= 0 && host + (taken.size > 0 ? chunkBytes : 0) + (withShards.size > 0 ? bound : 0) <= cap;
  const take = (it: Item) => {
    if (taken.has(it)) return;
    for (const n of it.needs) take(n);
    taken.add(it);
    host -= it.freed;
    read += it.read;
    write += it.write;
    if (it.kind === 'shard') withShards.add(it.m);
    if (it.kind === 'boundary') {
      const was = actSlot.get(it.m) ?? 0, now = Math.max(was, it.freed);
      host += actSlotsBytes(now) - actSlotsBytes(was);
      actSlot.set(it.m, now);
    }
  };
  for (const it of eligible) {
    if (fits()) break;
    take(it);
  }
  let slot = 0;
  for (const it of taken) slot = Math.max(slot, it.slot);
  const staging = pool(slot, withShards.size);
  const stagingBytes = poolBytes(staging);
  return { taken, staging, stagingBytes, host: host + (taken.size > 0 ? chunkBytes : 0) + stagingBytes, read, write };
}

/** Largest slot sizes to try: none, and each shard's — at most MAX_SLOT_SIZES of them (spread, the largest kept). */
const MAX_SLOT_SIZES = 48;
function candidateSlots(items: Item[]): number[] {
  const all = [...new Set(items.filter((it) => it.kind === 'shard').map((it) => it.slot))].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(all.length / MAX_SLOT_SIZES));
  return [0, ...all.filter((_, i) => i % step === 0 || i === all.length - 1)];
}

/**
 * Place every model's state under `hostCap`; the result says what went where and whether it fits (hostBytes).
 * `devices`: how many devices run tasks at once (the staging pool's size). `held`: what the running job already holds.
 */
export function placeJob(rts: { name: string; rt: ModelRuntime }[], hostCap: number, devices = 1, held: HeldBuffers = { chunk: null, staging: null }): JobPlacement {
  const models: Model[] = rts.map(({ name, rt }) => ({ name, rt, states: stateNames(rt.recipe.optimizer).length, clipping: rt.recipe.clipNorm > 0 }));
  const maxParam = Math.max(1, ...rts.flatMap(({ rt }) => rt.params.map((p) => p.n)));
  const maxStates = Math.max(0, ...models.map((m) => m.states));
  // Values, gradient and every moment of a chunk.
  const chunk = { elems: Math.min(STEP_CHUNK, maxParam), arrays: 2 + maxStates };
  const chunkBytes = held.chunk && held.chunk.elems >= chunk.elems && held.chunk.arrays >= chunk.arrays ? 0 : chunkBufferBytes(chunk);
  const base = models.reduce((a, { rt, states }) => a + fixedHostBytes(rt) + boundaryBytes(rt) + rt.params.reduce((s, p) => s + (2 + states) * 4 * p.n, 0), 0);
  const items = itemsOf(models).sort(byCost);
  const slotSizes = candidateSlots(items);
  let best: Choice | null = null, floor: Choice | null = null;
  const all: Choice = { taken: new Set(), staging: null, stagingBytes: 0, host: base, read: 0, write: 0 };
  for (const s of slotSizes) {
    const f = choose(items, s, -1, devices, base, chunkBytes, held.staging);
    if (!floor || f.host < floor.host) floor = f;
    if (base <= hostCap) continue;
    const c = choose(items, s, hostCap, devices, base, chunkBytes, held.staging);
    // Among the slot sizes that fit: the least traffic per step (then the least RAM).
    if (c.host <= hostCap && (!best || c.read + c.write < best.read + best.write || (c.read + c.write === best.read + best.write && c.host < best.host))) best = c;
  }
  const chosen = base <= hostCap ? all : (best ?? floor!);
  return assemble(models, chosen, chosen.taken.size > 0 ? chunk : null, chosen.taken.size > 0 ? chunkBytes : 0, Math.min(base, floor!.host), hostCap, base, devices);
}

function assemble(models: Model[], c: Choice, chunk: JobPlacement['chunk'], chunkBytes: number, hostFloor: number, hostCap: number, allHost: number, devices: number): JobPlacement {
  const out: ModelPlacement[] = models.map(({ name, rt, states }, m) => {
    const home = new Map<string, ParamHome>(rt.params.map((p) => [p.spec.name, 'host']));
    const diskShards: number[] = [], diskBoundaries: number[] = [];
    let read = 0, write = 0, slotBytes = 0, largestAct = 0;
    for (const it of c.taken) {
      if (it.m !== m) continue;
      read += it.read;
      write += it.write;
      if (it.kind === 'moments' && home.get(it.param!) === 'host') home.set(it.param!, 'moments-on-disk');
      if (it.kind === 'shard') {
        diskShards.push(it.shard!);
        slotBytes = Math.max(slotBytes, it.slot);
        for (const p of rt.shardParams[it.shard!]) if (p.shards.length === 1) home.set(p.spec.name, 'disk');
      }
      if (it.kind === 'boundary') {
        diskBoundaries.push(it.boundary!);
        largestAct = Math.max(largestAct, it.freed);
      }
    }
    let host = fixedHostBytes(rt) + actSlotsBytes(largestAct), disk = 0, grads = 0;
    for (let k = 1; k < rt.boundaryLength.length; k++) {
      if (diskBoundaries.includes(k)) disk += onDiskBytes(rt.boundaryLength[k]);
      else host += 4 * rt.boundaryLength[k];
    }
    for (const p of rt.params) {
      const h = home.get(p.spec.name)!;
      if (h === 'host') host += (2 + states) * 4 * p.n;
      else if (h === 'moments-on-disk') {
        host += 2 * 4 * p.n;
        disk += states * onDiskBytes(p.n);
      } else {
        disk += (2 + states) * onDiskBytes(p.n);
        grads += onDiskBytes(p.n);
      }
    }
    return {
      model: name, home, boundaries: rt.shards.length - 1, diskShards: diskShards.sort((a, b) => a - b), diskBoundaries: diskBoundaries.sort((a, b) => a - b), actSlotBytes: actSlotBytes(largestAct), slotBytes,
      hostBytes: host, diskBytes: disk, diskGradBytes: grads, readPerStep: read, writePerStep: write,
    };
  });
  const sum = (f: (m: ModelPlacement) => number) => out.reduce((a, m) => a + f(m), 0);
  const hostBytes = sum((m) => m.hostBytes) + chunkBytes + c.stagingBytes;
  return {
    models: out, chunk, chunkBytes, staging: c.staging, stagingBytes: c.stagingBytes, hostBytes, diskBytes: sum((m) => m.diskBytes),
    readPerStep: sum((m) => m.readPerStep), writePerStep: sum((m) => m.writePerStep), hostFloor, reasons: reasonsOf(models, c, hostCap, allHost, devices),
  };
}

function reasonsOf(models: Model[], c: Choice, hostCap: number, allHost: number, devices: number): string[] {
  if (c.taken.size === 0) return [`everything in RAM (${formatBytes(allHost)} within the host cap of ${formatBytes(hostCap)})`];
  const out = [
    `all in RAM would be ${formatBytes(allHost)}, over the host cap of ${formatBytes(hostCap)}: what is read least per byte freed goes to disk, what is read most stays ` +
      `(boundary activations last; batches, the boundary gradient, tied parameters' values and gradients always stay)`,
  ];
  const moments = [...c.taken].filter((it) => it.kind === 'moments');
  if (moments.length > 0) {
    const bytes = moments.reduce((a, it) => a + it.freed, 0);
    out.push(`optimizer moments of ${moments.length} parameter${moments.length === 1 ? '' : 's'} on disk (${formatBytes(bytes)}: read and written once per step, by the optimizer only)`);
  }
  const shards = [...c.taken].filter((it) => it.kind === 'shard');
  if (shards.length > 0) {
    const last = shards.filter((it) => it.shard === models[it.m].rt.shards.length - 1).length;
    out.push(
      `parameters and gradients of ${shards.length} shard${shards.length === 1 ? '' : 's'} on disk (${last} last shard${last === 1 ? '' : 's'}: read once per step; ` +
        `${shards.length - last} visited twice: read twice), staged through a pool of ${c.staging!.count} host slots of ${formatBytes(c.staging!.slotBytes)} ` +
        `shared by the job (${SLOTS_PER_DEVICE} per device for ${devices} device${devices === 1 ? '' : 's'}: the running task's, the next shard being read, one being stepped)`,
    );
  }
  const bounds = [...c.taken].filter((it) => it.kind === 'boundary');
  if (bounds.length > 0) {
    const byModel = new Set(bounds.map((it) => it.m)).size;
    const bytes = bounds.reduce((a, it) => a + it.freed, 0), moving = bounds.filter((it) => it.read > 0).length;
    out.push(
      `boundary activations of ${bounds.length} boundar${bounds.length === 1 ? 'y' : 'ies'} on disk (${formatBytes(bytes)}: the most read per byte — by the forward and the backward ` +
        `— so they go last, from the top down), through ${ACT_SLOTS} host slots per model (${byModel} model${byModel === 1 ? '' : 's'}): ` +
        `each model's top two stay in its slots from forward to backward (no disk traffic), ${moving} ${moving === 1 ? 'is' : 'are'} written by the forward and read once by the backward`,
    );
  }
  return out;
}

/** The placement in a few lines (plan output and `hydra train --dry-run`). */
export function describePlacement(p: JobPlacement): string[] {
  const lines = [
    `placement: ${formatBytes(p.hostBytes)} in RAM, ${formatBytes(p.diskBytes)} on disk; per step ${formatBytes(p.readPerStep)} read, ${formatBytes(p.writePerStep)} written`,
    ...p.reasons.map((r) => `  ${r}`),
  ];
  for (const m of p.models) {
    const count = (h: ParamHome) => [...m.home.values()].filter((x) => x === h).length;
    lines.push(
      `  ${m.model}: ${formatBytes(m.hostBytes)} RAM, ${formatBytes(m.diskBytes)} disk; parameters in RAM ${count('host')}, moments on disk ${count('moments-on-disk')}, ` +
        `all on disk ${count('disk')}${m.diskShards.length ? ` (shards ${m.diskShards.join(', ')})` : ''}; ` +
        `boundary activations on disk ${m.diskBoundaries.length} of ${m.boundaries}${m.diskBoundaries.length ? ` (boundaries ${m.diskBoundaries.join(', ')}; ${ACT_SLOTS} slots of ${formatBytes(m.actSlotBytes)})` : ''}; ` +
        `per step ${formatBytes(m.readPerStep)} read, ${formatBytes(m.writePerStep)} written${m.stashBytes ? `; activation stash ${formatBytes(m.stashBytes)}` : ''}`,
    );
  }
  return lines;
}
