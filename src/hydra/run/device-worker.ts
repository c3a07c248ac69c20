/**
 * A device: a worker thread that owns one backend instance (its own threads and memory budget) and runs shard tasks
 * of any registered model against that model's host-tier state. While a task computes, the parameters of the task
 * the scheduler expects next are already being copied in (double buffering), within the partitioner's reserve.
 * After a task its shard's parameter values stay on the device while nothing else needs the room (shard-cache.ts),
 * so a later task of that shard at the same parameter version copies nothing in; a shard that can be stepped here
 * keeps its optimizer state too, and is written back to the host tier only when needed (device-state.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DeviceOutOfMemoryError, type Backend, type DeviceBuffer } from '../../backend/backend.js';
import { createBackend } from '../../backend/index.js';
import { buildArch, loadFamily } from '../../nn/families.js';
import { viewsOf, type HostViews } from '../tier/host-state.js';
import { buildRuntime, type ModelRuntime } from './model-runtime.js';
import { runShardTask, type Prefetched } from './shard-executor.js';
import { evictingBackend, keyOf, ShardCache, type DeviceOptState, type Entry, type ResidentShard } from './shard-cache.js';
import { deviceSteppable, entryBytes, stateBytes, stateFits, writeBackEntry, type PlannedRoom } from './device-state.js';
import { stepsParams } from './prefetch-safety.js';
import { trackAllocations } from './tracked-backend.js';
import type { TaskTiming } from './task-timing.js';
import type { PrefetchTotals } from '../api.js';
import type { DeviceInit, FromWorker, ToWorker } from './worker-protocol.js';

interface Registered {
  rt: ModelRuntime;
  views: HostViews;
  room: PlannedRoom;
  /** Per shard: stepped on this device against resident optimizer state (all false when the job turned it off). */
  steppable: boolean[];
}

interface Prefetch {
  modelId: string;
  shard: number;
  buffers: Prefetched;
  pending: Promise<unknown>[];
  /** Seconds the prefetch copies took (measured by the backend), when it can tell. */
  copySeconds: number;
  /** The shard's parameter version the copies were taken at. */
  paramsVersion: number;
}

const port = parentPort!;
const init = workerData as DeviceInit;
const models = new Map<string, Registered>();
/** The backend as everything here uses it: allocations evict cached shards to make room. */
let be: Backend;
let raw: Backend;
let cache: ShardCache;
let prefetch: Prefetch | null = null;
const totals: PrefetchTotals = { copiedBytes: 0, usedBytes: 0, droppedBytes: 0, failures: 0 };
/** Write-backs under way (each entry once); a task, a release or the shutdown waits for them before touching entries. */
const flushing = new Map<Entry, Promise<void>>();
/** The running task's shard when it holds resident optimizer state (it is out of the cache while it runs). */
let runningDirty: ResidentShard | null = null;
/** When the latest task report was posted (performance.now()): the start of the orchestrator's round trip. */
let reportedAt: number | undefined;

function post(m: FromWorker): void {
  port.postMessage(m);
}

function startPrefetch(modelId: string, shard: number, paramsVersion: number): void {
  const m = models.get(modelId);
  if (!m || cache.has(modelId, shard, paramsVersion)) return; // already here, current: nothing to copy
  const p: Prefetch = { modelId, shard, buffers: new Map(), pending: [], copySeconds: 0, paramsVersion };
  for (const param of m.rt.shardParams[shard]) {
    let buf: DeviceBuffer;
    try {
      buf = be.alloc(param.n);
    } catch (e) {
      // No room: the task will load the rest itself. A prefetch is an optimisation, so this does not fail the task,
      // but it is counted: the plan's reserve is meant to make it impossible.
      if (!(e instanceof DeviceOutOfMemoryError)) throw e;
      totals.failures++;
      break;
    }
    p.buffers.set(param.spec.name, buf);
    const src = m.views.param(param.spec.name);
    totals.copiedBytes += src.byteLength;
    p.pending.push(be.uploadTimed ? be.uploadTimed(buf, src).then((s) => void (p.copySeconds += s)) : be.upload(buf, src));
  }
  prefetch = p;
}

/**
 * Free an unused prefetch. Only after its copies have landed (the backend may still be writing into the buffers), and
 * before anything else is allocated: the plan leaves room for one prefetch beside a task, not two.
 */
async function dropPrefetch(): Promise<void> {
  if (!prefetch) return;
  const p = prefetch;
  prefetch = null;
  await Promise.allSettled(p.pending);
  for (const b of p.buffers.values()) {
    totals.droppedBytes += b.bytes;
    be.free(b);
  }
}

type StageMessage = Extract<ToWorker, { type: 'stage' }>;
/** The latest run received, and the latest that has made its own prefetch decision (a stage for it may start then). */
let lastRunSeen = 0;
let decidedRun = 0;
/** A stage for a run still queued: it starts once that run has decided its own prefetch. */
let pendingStage: StageMessage | null = null;

/**
 * Two-level prefetch, the device's half: the next task's shard, staged from disk into a host slot, is copied in
 * beside the current task when nothing else is being prefetched. The answer waits for the copies to land: the slot
 * is pinned until then.
 */
function stage(msg: StageMessage): void {
  const m = models.get(msg.modelId);
  if (msg.runId !== lastRunSeen || !m || prefetch) return post({ type: 'staged', id: msg.id, bytes: 0 });
  m.views.stage(msg.shard, msg.slot);
  startPrefetch(msg.modelId, msg.shard, msg.paramsVersion);
  const p = prefetch as Prefetch | null;
  if (!p) return post({ type: 'staged', id: msg.id, bytes: 0 });
  const bytes = [...p.buffers.values()].reduce((a, b) => a + b.bytes, 0);
  void Promise.allSettled(p.pending).then(() => post({ type: 'staged', id: msg.id, bytes }));
}

/** A stage that arrived before its run decided its own prefetch starts now (or is declined when it is stale). */
function takePendingStage(runId: number): void {
  decidedRun = Math.max(decidedRun, runId);
  const s = pendingStage;
  if (!s || s.runId > runId) return;
  pendingStage = null;
  if (s.runId === runId) stage(s);
  else post({ type: 'staged', id: s.id, bytes: 0 });
}

/** Write a dirty entry back to the host tier; it stays as a clean entry. */
function flush(e: Entry): Promise<void> {
  let p = flushing.get(e);
  if (!p) {
    const m = models.get(e.modelId)!;
    p = writeBackEntry(be, m.rt, m.views, e).then((bytes) => {
      cache.markClean(e);
      cache.totals.writeBacks++;
      cache.totals.writeBackBytes += bytes;
    });
    flushing.set(e, p);
    void p.finally(() => flushing.delete(e)).catch(() => undefined);
  }
  return p;
}

async function settle(): Promise<void> {
  while (flushing.size > 0) await Promise.allSettled([...flushing.values()]);
}

/** Every shard whose only current copy is here. */
function dirtyList(): ResidentShard[] {
  const out = cache.dirty().map(({ modelId, shard, version }) => ({ modelId, shard, version }));
  return runningDirty ? [...out, runningDirty] : out;
}

/**
 * Make room for a task: its planned peak and prefetch reserve, plus whatever resident state stays beside it — other
 * shards' dirty entries (written back least recently used first until they fit) and, if it can be stepped here, its
 * own optimizer state. Returns whether the task steps on the device; if not, its own state is written back.
 */
async function roomFor(m: Registered, modelId: string, shard: number): Promise<boolean> {
  const budget = raw.stats().budget;
  const need = m.room.peaks[shard] + m.room.reserve;
  const ownKey = keyOf(modelId, shard);
  const others = cache.dirty().filter((e) => keyOf(e.modelId, e.shard) !== ownKey);
  // Its own state (its values are part of its peak), when it could fit at all.
  const ownBytes = stateBytes(raw, m.rt, shard);
  const own = m.steppable[shard] && stateFits(m.room.peaks[shard], m.room.reserve, ownBytes, budget) ? ownBytes : null;
  let held = others.reduce((n, e) => n + entryBytes(raw, e), 0);
  for (const e of others) {
    if (need + (own ?? 0) + held <= budget) break;
    held -= entryBytes(raw, e);
    await flush(e); // its values stay, clean: allocations may evict them
  }
  const onDevice = own !== null && need + own + held <= budget;
  if (!onDevice) for (const e of cache.dirty(modelId, shard)) await flush(e);
  return onDevice;
}

/** `receivedAt`: when the message arrived (performance.now()). */
async function run(msg: Extract<ToWorker, { type: 'run' }>, receivedAt: number): Promise<void> {
  const began = performance.now();
  const m = models.get(msg.modelId);
  if (!m) throw new Error(`model '${msg.modelId}' is not registered on this device`);
  const { shard } = msg.task;
  await settle();
  const onDevice = init.shardCache !== false && (await roomFor(m, msg.modelId, shard));
  const taken = cache.take(msg.modelId, shard, msg.paramsVersion);
  let mine: Prefetched = taken?.values ?? new Map();
  const state: DeviceOptState | undefined = onDevice ? (taken?.state ?? new Map()) : undefined;
  if (state && state.size > 0) runningDirty = { modelId: msg.modelId, shard, version: msg.paramsVersion };
  // A prefetch is used only if no step touched the shard's parameters since its copies began.
  if (mine.size === 0 && prefetch && prefetch.modelId === msg.modelId && prefetch.shard === shard && prefetch.paramsVersion === msg.paramsVersion) {
    await Promise.all(prefetch.pending);
    mine = prefetch.buffers;
    for (const b of mine.values()) totals.usedBytes += b.bytes;
    prefetch = null;
  } else {
    await dropPrefetch();
  }
  if (mine.size === 0) cache.copiedIn(msg.modelId, shard, msg.paramsVersion);
  const t0 = performance.now();
  // The values stay resident unless this task steps them on the host (the device's copy would be stale).
  const stepped = stepsParams(m.rt, msg.task);
  const keeps = init.shardCache !== false && (onDevice || !m.rt.shardParams[shard].some((p) => stepped.has(p.spec.name)));
  const pf = msg.prefetch;
  // A prefetch of the very shard this task keeps would copy what stays here anyway.
  if (pf && !(keeps && pf.modelId === msg.modelId && pf.shard === shard && pf.paramsVersion === msg.paramsVersion)) startPrefetch(pf.modelId, pf.shard, pf.paramsVersion);
  takePendingStage(msg.id);
  const next = prefetch;
  // Prefetched buffers become the task's own; a failing task gives back everything it held.
  const tracked = trackAllocations(be, [...mine.values(), ...[...(state?.values() ?? [])].flat()]);
  let kept = false;
  const keep = (values: Map<string, DeviceBuffer>, steppedHere: boolean): boolean => {
    if (!keeps) return false;
    tracked.disown(values.values());
    const dirty = state && state.size > 0 ? state : null;
    for (const bufs of dirty?.values() ?? []) tracked.disown(bufs);
    // Stepped here: the values and state are the step's result, the version the job gives the shard after it.
    cache.put(msg.modelId, shard, msg.paramsVersion + (steppedHere ? 1 : 0), values, dirty);
    if (steppedHere) cache.totals.deviceSteps++;
    kept = true;
    return true;
  };
  let outcome;
  try {
    outcome = await runShardTask(tracked.be, m.rt, m.views, msg.task, mine, keep, state);
    // State held without the values being kept would be a lost step (keeps is true whenever state is held).
    if (!kept && state && state.size > 0) throw new Error(`task ${msg.task.kind}${shard} of '${msg.modelId}' dropped its device-resident state (bookkeeping bug)`);
  } catch (e) {
    tracked.freeLive();
    runningDirty = null;
    await settle();
    cache.drop(msg.modelId);
    throw e;
  }
  runningDirty = null;
  const ran = performance.now();
  // Entries whose parameters the host stepped are stale (dirty entries were stepped here and are current).
  cache.invalidate(msg.modelId, stepped);
  const t1 = performance.now();
  // The next task's copies were issued before this task's compute and ran beside it on the backend's copy threads:
  // the measured duration of those that have landed, up to this task's length, overlapped compute (a lower bound:
  // copies still running are not counted, and the task does not wait for them). Backends without timed uploads copy
  // synchronously: nothing overlapped.
  const overlap = next && be.uploadTimed ? Math.min(next.copySeconds, (t1 - t0) / 1000) : 0;
  const s = be.stats();
  const end = performance.now();
  const timing: TaskTiming = {
    ...(reportedAt !== undefined ? { gap: (receivedAt - reportedAt) / 1000 } : {}),
    queued: (began - receivedAt) / 1000, prep: (t0 - began) / 1000, ...outcome.phases, after: (end - ran) / 1000,
  };
  post({
    type: 'done', id: msg.id,
    report: { outcome, seconds: (t1 - t0) / 1000, overlapSeconds: overlap, highWater: s.highWater, heldHighWater: s.heldHighWater, ...(s.outsideRegion !== undefined ? { outsideRegion: s.outsideRegion } : {}), inUse: s.inUse, prefetch: { ...totals }, cache: { ...cache.totals }, resident: cache.resident(), dirty: dirtyList(), timing },
  });
  reportedAt = performance.now();
}

async function main(): Promise<void> {
  raw = await createBackend(init.kind, { budget: init.budget, threads: init.threads, deviceIndex: init.deviceIndex });
  cache = new ShardCache(raw);
  be = evictingBackend(raw, cache);
  post({ type: 'ready', name: be.name, budget: be.stats().budget, maxBufferBytes: be.maxBufferBytes });
  // Tasks run one at a time, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    // A write-back runs beside the task in progress (it touches only entries out of that task's hands), so a device
    // that wants the shard next waits for the copy, not for this device's task.
    if (msg.type === 'writeback') {
      Promise.all(cache.dirty(msg.modelId, msg.shard).map(flush)).then(
        () => post({ type: 'written', id: msg.id, cache: { ...cache.totals }, dirty: dirtyList() }),
        (e: unknown) => post({ type: 'fatal', message: `writing back '${msg.modelId}' failed: ${e instanceof Error ? e.message : String(e)}` }),
      );
      return;
    }
    if (msg.type === 'stage') {
      if (decidedRun >= msg.runId) stage(msg);
      else {
        if (pendingStage) post({ type: 'staged', id: pendingStage.id, bytes: 0 });
        pendingStage = msg;
      }
      return;
    }
    const receivedAt = performance.now();
    if (msg.type === 'run') lastRunSeen = msg.id;
    queue = queue.then(async () => {
      switch (msg.type) {
        case 'register':
          try {
            await loadFamily(msg.arch);
            const rt = buildRuntime(buildArch(msg.arch), msg.shards, msg.recipe, msg.B, msg.T);
            const views = viewsOf(msg.buffers, rt);
            const steppable = msg.deviceState && msg.room ? deviceSteppable(rt, (n) => views.stepsHere(n)) : rt.shards.map(() => false);
            const room = msg.room ?? { peaks: rt.shards.map(() => Infinity), reserve: 0 };
            models.set(msg.modelId, { rt, views, room, steppable });
          } catch (e) {
            // The main thread built the same model a moment ago; a worker that cannot is unusable for every model.
            post({ type: 'fatal', message: `registering model '${msg.modelId}' failed: ${e instanceof Error ? e.message : String(e)}` });
          }
          break;
        case 'unregister':
          if (prefetch?.modelId === msg.modelId) await dropPrefetch();
          // The job wrote the model's state back before releasing it; a write-back still landing finishes first.
          await settle();
          cache.drop(msg.modelId);
          models.delete(msg.modelId);
          break;
        case 'run':
          try {
            await run(msg, receivedAt);
          } catch (e) {
            post({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
          } finally {
            // A run that failed before deciding its prefetch answers its stage too (a pinned slot waits for it).
            takePendingStage(msg.id);
          }
          break;
        case 'shutdown':
          await dropPrefetch();
          // The host tier gets every step taken here before the job reads the final weights.
          await settle();
          await Promise.all(cache.dirty().map(flush));
          cache.clear();
          await be.sync();
          raw.dispose();
          post({ type: 'stopped', prefetch: { ...totals }, cache: { ...cache.totals } });
          port.close();
          break;
      }
    });
  });
}

main().catch((e: unknown) => post({ type: 'fatal', message: e instanceof Error ? e.message : String(e) }));
