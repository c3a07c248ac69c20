/**
 * Device-resident optimizer state, with write-back. A shard whose parameters no other shard uses can be stepped on
 * the device that ran its backward, against optimizer state kept there: its gradients, new values and state never
 * cross to the host, so a one-shard model that keeps its device copies nothing per step but the batch. The shard's
 * cache entry is then DIRTY (shard-cache.ts): the only current copy. It is written back to the host tier (values and
 * state, the same bytes the host step would have produced) when anything else needs it — another device's task of
 * the shard (the job asks first: job/write-back.ts), a checkpoint, the model's release, the job's end — or when a
 * task on this device needs its room.
 *
 * Room is exact: a task's own planned peak (the partitioner's accounting of the very same executor) plus the
 * prefetch reserve fits the budget; resident state is kept beside it only where it still fits — the task's own
 * optimizer state, and other shards' dirty entries, least recently used written back first. Clean entries are
 * evicted by allocations as before. So the allocator's budget is never the reason a planned task fails.
 *
 * Parameters a shard shares with another (tied embeddings), shards whose parameters are stepped by another shard's
 * task (global-norm clipping steps everything in shard 0's task), and models with state on the disk tier keep the
 * host-tier optimizer.
 */
import type { Backend } from '../../backend/backend.js';
import { stateNames } from '../../optim/optimizer.js';
import type { HostViews } from '../tier/host-state.js';
import type { ModelRuntime } from './model-runtime.js';
import type { Entry } from './shard-cache.js';

/** What the partitioner planned for a model: per shard, its heaviest task's peak; and the prefetch reserve. */
export interface PlannedRoom {
  peaks: number[];
  reserve: number;
}

/**
 * Per shard: whether its own optimizer step may run on the device (see the header for who may not); `stepsHere`:
 * the host tier steps the parameter (not the disk tier).
 */
export function deviceSteppable(rt: ModelRuntime, stepsHere: (name: string) => boolean = () => true): boolean[] {
  const clipping = rt.recipe.clipNorm > 0;
  return rt.shardParams.map((params, k) => (k === 0 || !clipping) && params.every((p) => p.shards.length === 1 && stepsHere(p.spec.name)));
}

/** Whether a shard's optimizer state stays on the device beside its task: the task's planned peak and reserve first. */
export function stateFits(peak: number, reserve: number, state: number, budget: number): boolean {
  return peak + reserve + state <= budget;
}

/** Device bytes of one buffer as the backend's budget counts it (webgpu rounds each buffer up to its size class). */
const held = (be: Backend, bytes: number): number => be.deviceBytes?.of(bytes) ?? bytes;

/** Device bytes of a shard's optimizer state (each state tensor is shaped like its parameter). */
export function stateBytes(be: Backend, rt: ModelRuntime, shard: number): number {
  const per = stateNames(rt.recipe.optimizer).length;
  let n = 0;
  for (const p of rt.shardParams[shard]) n += per * held(be, 4 * p.n);
  return n;
}

/** Device bytes an entry holds (values and state). */
export function entryBytes(be: Backend, e: Entry): number {
  let n = 0;
  for (const b of e.buffers.values()) n += held(be, b.bytes);
  for (const s of e.state?.values() ?? []) for (const b of s) n += held(be, b.bytes);
  return n;
}

/** Copy a dirty entry's values and optimizer state into the host tier; returns the bytes copied. */
export async function writeBackEntry(be: Backend, rt: ModelRuntime, views: HostViews, e: Entry): Promise<number> {
  const names = stateNames(rt.recipe.optimizer);
  const copies: Promise<unknown>[] = [];
  let bytes = 0;
  for (const [name, buf] of e.buffers) {
    copies.push(be.download(buf, views.param(name)));
    bytes += buf.bytes;
  }
  for (const [name, bufs] of e.state ?? []) {
    bufs.forEach((buf, i) => copies.push(be.download(buf, views.opt(names[i], name))));
    for (const b of bufs) bytes += b.bytes;
  }
  await Promise.all(copies);
  return bytes;
}
