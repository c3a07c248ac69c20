/**
 * The placement policy: which tier each array of each model's state lives in when the host cap cannot hold it all.
 *
 * Always in RAM: batches, boundary activations and their gradient, the squared-norm table — read on every task, the
 * most per byte — and parameters used by more than one shard (tied embeddings: two visits, two tasks' gradients).
 * Then, while the plan exceeds the cap:
 *   1. optimizer moments go to disk first (largest parameters first): touched once per step, by the optimizer only;
 *   2. then whole shards' parameters and gradients, the last shard first (its parameters are read once per step: FL
 *      has no separate backward visit), then the largest. A shard on disk is staged through a fixed set of host
 *      slots while its tasks run (one for the task, one prefetching the next, one being stepped and written back).
 * The step of state on disk streams through a bounded chunk buffer (tier/disk-step.ts).
 */
import type { ModelRuntime } from '../run/model-runtime.js';
import { stateNames } from '../../optim/optimizer.js';
import { formatBytes } from '../units.js';
import { ALIGN } from './scratch-file.js';

export type ParamHome = 'host' | 'moments-on-disk' | 'disk';

/** Host staging slots per model with shards on disk: the running task's, the next task's, the one being stepped. */
export const STAGING_SLOTS = 3;
/** Elements per chunk of a streamed optimizer step. */
export const STEP_CHUNK = 1 << 20;

export interface ModelPlacement {
  model: string;
  home: Map<string, ParamHome>;
  /** Shards whose parameters and gradients live on disk, ascending. */
  diskShards: number[];
  /** Bytes of one staging slot (the largest disk shard's parameters + gradients); 0 without disk shards. */
  slotBytes: number;
  /** Staging slots of slotBytes the model holds in RAM. */
  slotCount: number;
  hostBytes: number;
  /** Bytes of its scratch file, of which the gradients (the file's last part: written only with clipping). */
  diskBytes: number;
  diskGradBytes: number;
  /** Predicted disk traffic of one training step. */
  readPerStep: number;
  writePerStep: number;
}

export interface JobPlacement {
  models: ModelPlacement[];
  /** The chunk buffer streamed steps need (elements per array, arrays per set); null when nothing is on disk. */
  chunk: { elems: number; arrays: number } | null;
  /** Bytes of a new chunk buffer to allocate (0 when none is needed or the held one suffices). */
  chunkBytes: number;
  hostBytes: number;
  diskBytes: number;
  /** Host bytes with everything that may move on disk. */
  hostFloor: number;
  /** Why, in words, for the plan. */
  reasons: string[];
}

/** Host bytes a model holds whatever the placement (batches, boundaries, norms). */
export function fixedHostBytes(rt: ModelRuntime): number {
  const acts = rt.boundaryLength.reduce((a, n) => a + n * 4, 0);
  return acts + Math.max(0, ...rt.boundaryLength) * 4 + 2 * rt.B * rt.T * 4 + rt.params.length * 8;
}

interface Work {
  rt: ModelRuntime;
  name: string;
  states: number;
  home: Map<string, ParamHome>;
  diskShards: Set<number>;
}

function slotBytesOf(w: Work): number {
  let max = 0;
  for (const k of w.diskShards) max = Math.max(max, w.rt.shardParams[k].filter((p) => w.home.get(p.spec.name) === 'disk').reduce((a, p) => a + 8 * p.n, 0));
  return max;
}

function modelTotals(w: Work, clipping: boolean): ModelPlacement {
  let host = fixedHostBytes(w.rt), disk = 0, read = 0, write = 0, grads = 0;
  const S = w.states;
  for (const p of w.rt.params) {
    // On disk every array starts at an aligned offset (scratch-file.ts).
    const b = 4 * p.n, home = w.home.get(p.spec.name)!, onDisk = Math.ceil(b / ALIGN) * ALIGN;
    if (home === 'host') host += b * (2 + S);
    else if (home === 'moments-on-disk') {
      host += 2 * b;
      disk += S * onDisk;
      read += S * b;
      write += S * b;
    } else {
      disk += (2 + S) * onDisk;
      grads += onDisk;
      const visits = p.shards[0] === w.rt.shards.length - 1 ? 1 : 2; // FL, or F and B
      // Each visit reads the values; the step reads the moments (and, clipping, the values and gradient written after B).
      read += visits * b + S * b + (clipping ? 2 * b : 0);
      write += b + S * b + (clipping ? b : 0);
    }
  }
  const slotBytes = slotBytesOf(w);
  host += STAGING_SLOTS * slotBytes;
  return { model: w.name, home: w.home, diskShards: [...w.diskShards].sort((a, b) => a - b), slotBytes, slotCount: slotBytes > 0 ? STAGING_SLOTS : 0, hostBytes: host, diskBytes: disk, diskGradBytes: grads, readPerStep: read, writePerStep: write };
}

/** Bytes of a chunk buffer: two sets (one stepped and written while the other is read). */
export function chunkBufferBytes(c: { elems: number; arrays: number }): number {
  return 2 * c.arrays * c.elems * 4;
}

/**
 * Place every model's state under `hostCap`; the result says what went where and whether it fits (hostBytes).
 * `held`: a chunk buffer the job already holds (models added to a running job share it when it is large enough).
 */
export function placeJob(rts: { name: string; rt: ModelRuntime }[], hostCap: number, held: { elems: number; arrays: number } | null = null): JobPlacement {
  const works: Work[] = rts.map(({ name, rt }) => ({ rt, name, states: stateNames(rt.recipe.optimizer).length, home: new Map(rt.params.map((p) => [p.spec.name, 'host' as ParamHome])), diskShards: new Set<number>() }));
  const clip = (w: Work) => w.rt.recipe.clipNorm > 0;
  const maxParam = Math.max(1, ...rts.flatMap(({ rt }) => rt.params.map((p) => p.n)));
  const chunkElems = Math.min(STEP_CHUNK, maxParam);
  const maxStates = Math.max(0, ...works.map((w) => w.states));
  const totals = () => {
    const models = works.map((w) => modelTotals(w, clip(w)));
    const streamed = works.some((w) => [...w.home.values()].some((h) => h !== 'host'));
    // Values, gradient and every moment of a chunk.
    const chunk = streamed ? { elems: chunkElems, arrays: 2 + maxStates } : null;
    const chunkBytes = chunk && !(held && held.elems >= chunk.elems && held.arrays >= chunk.arrays) ? chunkBufferBytes(chunk) : 0;
    return { models, chunk, chunkBytes, hostBytes: chunkBytes + models.reduce((a, m) => a + m.hostBytes, 0), diskBytes: models.reduce((a, m) => a + m.diskBytes, 0) };
  };
  const reasons: string[] = [];
  let t = totals();
  const allHost = t.hostBytes;
  // 1. moments, largest first (only optimizers that keep moments have any to move).
  const moments = works.flatMap((w) => (w.states === 0 ? [] : w.rt.params.map((p) => ({ w, p })))).sort((a, b) => b.p.n - a.p.n);
  let moved = 0;
  for (const { w, p } of moments) {
    if (t.hostBytes <= hostCap) break;
    w.home.set(p.spec.name, 'moments-on-disk');
    moved++;
    t = totals();
  }
  if (moved > 0) reasons.push(`optimizer moments of ${moved} parameter${moved === 1 ? '' : 's'} on disk (read and written once per step, by the optimizer only)`);
  // 2. whole shards: the last first (visited once per step), then the largest.
  const shards = works.flatMap((w) =>
    w.rt.shards.map((_, k) => ({ w, k, bytes: w.rt.shardParams[k].filter((p) => p.shards.length === 1).reduce((a, p) => a + p.n, 0), last: k === w.rt.shards.length - 1 })),
  ).filter((s) => s.bytes > 0).sort((a, b) => Number(b.last) - Number(a.last) || b.bytes - a.bytes);
  const onDisk = (w: Work, k: number) => {
    for (const p of w.rt.shardParams[k]) if (p.shards.length === 1) w.home.set(p.spec.name, 'disk');
    w.diskShards.add(k);
  };
  let disked = 0;
  for (const s of shards) {
    if (t.hostBytes <= hostCap) break;
    onDisk(s.w, s.k);
    disked++;
    t = totals();
  }
  if (disked > 0) reasons.push(`parameters and gradients of ${disked} shard${disked === 1 ? '' : 's'} on disk (the last shard first: one visit per step; then the largest), staged through ${STAGING_SLOTS} host slots per model`);
  // The floor: everything movable on disk (computed on copies, the placement above stays).
  const saved = works.map((w) => ({ home: new Map(w.home), disk: new Set(w.diskShards) }));
  for (const { w, p } of moments) if (w.home.get(p.spec.name) === 'host') w.home.set(p.spec.name, 'moments-on-disk');
  for (const s of shards) onDisk(s.w, s.k);
  const floor = totals().hostBytes;
  works.forEach((w, i) => {
    w.home = saved[i].home;
    w.diskShards = saved[i].disk;
  });
  t = totals();
  if (reasons.length === 0) reasons.push(`everything in RAM (${formatBytes(allHost)} within the host cap of ${formatBytes(hostCap)})`);
  return { models: t.models.map((m, i) => ({ ...m, home: works[i].home })), chunk: t.chunk, chunkBytes: t.chunkBytes, hostBytes: t.hostBytes, diskBytes: t.diskBytes, hostFloor: Math.min(floor, allHost), reasons };
}

/** The placement in a few lines (plan output and `hydra train --dry-run`). */
export function describePlacement(p: JobPlacement): string[] {
  const lines = [`placement: ${formatBytes(p.hostBytes)} in RAM, ${formatBytes(p.diskBytes)} on disk; ${p.reasons.join('; ')}`];
  for (const m of p.models) {
    const count = (h: ParamHome) => [...m.home.values()].filter((x) => x === h).length;
    lines.push(
      `  ${m.model}: ${formatBytes(m.hostBytes)} RAM, ${formatBytes(m.diskBytes)} disk; parameters in RAM ${count('host')}, moments on disk ${count('moments-on-disk')}, ` +
        `all on disk ${count('disk')}${m.diskShards.length ? ` (shards ${m.diskShards.join(', ')})` : ''}; per step ${formatBytes(m.readPerStep)} read, ${formatBytes(m.writePerStep)} written`,
    );
  }
  return lines;
}
