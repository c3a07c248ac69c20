/**
 * A device: a worker thread that owns one backend instance (its own threads and memory budget) and runs shard tasks
 * of any registered model against that model's host-tier state. While a task computes, the parameters of the task
 * the scheduler expects next are already being copied in (double buffering), within the partitioner's reserve.
 * After a task its shard's parameter values stay on the device while nothing else needs the room (shard-cache.ts),
 * so a later task of that shard at the same parameter version copies nothing in.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DeviceOutOfMemoryError, type Backend, type DeviceBuffer } from '../../backend/backend.js';
import { createBackend } from '../../backend/index.js';
import { buildArch, loadFamily } from '../../nn/families.js';
import { viewsOf, type HostViews } from '../tier/host-state.js';
import { buildRuntime, type ModelRuntime } from './model-runtime.js';
import { runShardTask, type Prefetched } from './shard-executor.js';
import { evictingBackend, ShardCache } from './shard-cache.js';
import { stepsParams } from './prefetch-safety.js';
import { trackAllocations } from './tracked-backend.js';
import type { PrefetchTotals } from '../api.js';
import type { DeviceInit, FromWorker, ToWorker } from './worker-protocol.js';

interface Registered {
  rt: ModelRuntime;
  views: HostViews;
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

async function run(msg: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const m = models.get(msg.modelId);
  if (!m) throw new Error(`model '${msg.modelId}' is not registered on this device`);
  const { shard } = msg.task;
  let mine: Prefetched = cache.take(msg.modelId, shard, msg.paramsVersion) ?? new Map();
  // A prefetch is used only if no step touched the shard's parameters since its copies began.
  if (mine.size === 0 && prefetch && prefetch.modelId === msg.modelId && prefetch.shard === shard && prefetch.paramsVersion === msg.paramsVersion) {
    await Promise.all(prefetch.pending);
    mine = prefetch.buffers;
    for (const b of mine.values()) totals.usedBytes += b.bytes;
    prefetch = null;
  } else {
    await dropPrefetch();
  }
  const t0 = performance.now();
  // The values stay resident unless this task steps them (the host's copy changes; the device's would be stale).
  const stepped = stepsParams(m.rt, msg.task);
  const keeps = init.shardCache !== false && !m.rt.shardParams[shard].some((p) => stepped.has(p.spec.name));
  const pf = msg.prefetch;
  // A prefetch of the very shard this task keeps would copy what stays here anyway.
  if (pf && !(keeps && pf.modelId === msg.modelId && pf.shard === shard && pf.paramsVersion === msg.paramsVersion)) startPrefetch(pf.modelId, pf.shard, pf.paramsVersion);
  const next = prefetch;
  // Prefetched buffers become the task's own; a failing task gives back everything it held.
  const tracked = trackAllocations(be, mine.values());
  const keep = (values: Map<string, DeviceBuffer>): boolean => {
    if (!keeps) return false;
    tracked.disown(values.values());
    cache.put(msg.modelId, shard, msg.paramsVersion, values);
    return true;
  };
  let outcome;
  try {
    outcome = await runShardTask(tracked.be, m.rt, m.views, msg.task, mine, keep);
  } catch (e) {
    tracked.freeLive();
    cache.drop(msg.modelId);
    throw e;
  }
  cache.invalidate(msg.modelId, stepped);
  const t1 = performance.now();
  // The next task's copies were issued before this task's compute and ran beside it on the backend's copy threads:
  // the measured duration of those that have landed, up to this task's length, overlapped compute (a lower bound:
  // copies still running are not counted, and the task does not wait for them). Backends without timed uploads copy
  // synchronously: nothing overlapped.
  const overlap = next && be.uploadTimed ? Math.min(next.copySeconds, (t1 - t0) / 1000) : 0;
  const s = be.stats();
  post({
    type: 'done', id: msg.id,
    report: { outcome, seconds: (t1 - t0) / 1000, overlapSeconds: overlap, highWater: s.highWater, heldHighWater: s.heldHighWater, inUse: s.inUse, prefetch: { ...totals }, cache: { ...cache.totals }, resident: cache.resident() },
  });
}

async function main(): Promise<void> {
  raw = await createBackend(init.kind, { budget: init.budget, threads: init.threads, deviceIndex: init.deviceIndex });
  cache = new ShardCache(raw);
  be = evictingBackend(raw, cache);
  post({ type: 'ready', name: be.name, budget: be.stats().budget, maxBufferBytes: be.maxBufferBytes });
  // Tasks run one at a time, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    queue = queue.then(async () => {
      switch (msg.type) {
        case 'register':
          try {
            await loadFamily(msg.arch);
            const rt = buildRuntime(buildArch(msg.arch), msg.shards, msg.recipe, msg.B, msg.T);
            models.set(msg.modelId, { rt, views: viewsOf(msg.buffers, rt) });
          } catch (e) {
            // The main thread built the same model a moment ago; a worker that cannot is unusable for every model.
            post({ type: 'fatal', message: `registering model '${msg.modelId}' failed: ${e instanceof Error ? e.message : String(e)}` });
          }
          break;
        case 'unregister':
          if (prefetch?.modelId === msg.modelId) await dropPrefetch();
          cache.drop(msg.modelId);
          models.delete(msg.modelId);
          break;
        case 'run':
          try {
            await run(msg);
          } catch (e) {
            post({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
          }
          break;
        case 'shutdown':
          await dropPrefetch();
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
