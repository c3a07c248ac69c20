/** The orchestrator's handles on its device workers: start them, send tasks, get reports back as promises. */
import { Worker } from 'node:worker_threads';
import { prepareWebGpuEnvironment } from '../../backend/webgpu/dawn.js';
import type { DeviceSpec } from './device-spec.js';
import type { PrefetchTotals } from '../api.js';
import { emptyCacheTotals, type CacheTotals, type ResidentShard } from './shard-cache.js';
import type { DeviceInit, FromWorker, TaskReport, ToWorker } from './worker-protocol.js';

type RunMessage = Extract<ToWorker, { type: 'run' }>;

export class DeviceHandle {
  name = '';
  budget = 0;
  maxBufferBytes = Infinity;
  /** The device's prefetch counters as of its latest report (its totals once stopped). */
  prefetch: PrefetchTotals = { copiedBytes: 0, usedBytes: 0, droppedBytes: 0, failures: 0 };
  /** The device's shard-cache counters as of its latest report. */
  cache: CacheTotals = emptyCacheTotals();
  /** Shards whose only current copy is on this device, as of its latest message (device-state.ts). */
  dirty: ResidentShard[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: TaskReport) => void; reject: (e: Error) => void }>();
  private readonly writing = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly staging = new Map<number, { resolve: (bytes: number) => void; reject: (e: Error) => void }>();
  /** The id of the latest task sent. */
  private lastRun = 0;
  private fatal: Error | null = null;
  private stopping = false;

  private constructor(
    readonly id: number,
    private readonly worker: Worker,
  ) {}

  static start(id: number, spec: DeviceSpec, budget: number, shardCache = true): Promise<DeviceHandle> {
    const worker = new Worker(new URL('./device-worker.js', import.meta.url), {
      workerData: { kind: spec.kind, threads: spec.threads, budget, deviceIndex: id, shardCache } satisfies DeviceInit,
    });
    const h = new DeviceHandle(id, worker);
    return new Promise((resolve, reject) => {
      // A worker that dies — before or after it reported ready — fails every task it holds and every later one, so
      // the job never waits on a device that is gone.
      worker.on('error', (e) => {
        h.die(new Error(`device ${id}${h.name ? ` (${h.name})` : ''} crashed: ${e.message}`));
        reject(h.fatal);
      });
      worker.on('exit', (code) => {
        if (!h.stopping) h.die(new Error(`device ${id}${h.name ? ` (${h.name})` : ''} exited unexpectedly (exit code ${code})`));
        reject(h.fatal ?? new Error(`device ${id} exited before it was ready`));
      });
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          h.name = m.name;
          h.budget = m.budget;
          h.maxBufferBytes = m.maxBufferBytes;
          resolve(h);
        } else if (m.type === 'fatal') {
          h.die(new Error(`device ${id}: ${m.message}`));
          reject(h.fatal);
        } else if (m.type === 'done') {
          h.prefetch = m.report.prefetch;
          h.cache = m.report.cache;
          h.dirty = m.report.dirty;
          h.waiting.get(m.id)?.resolve(m.report);
          h.waiting.delete(m.id);
        } else if (m.type === 'written') {
          h.cache = m.cache;
          h.dirty = m.dirty;
          h.writing.get(m.id)?.resolve();
          h.writing.delete(m.id);
        } else if (m.type === 'staged') {
          h.staging.get(m.id)?.resolve(m.bytes);
          h.staging.delete(m.id);
        } else if (m.type === 'stopped') {
          h.prefetch = m.prefetch;
          h.cache = m.cache;
        } else if (m.type === 'error') {
          h.waiting.get(m.id)?.reject(new Error(m.message));
          h.waiting.delete(m.id);
        }
      });
    });
  }

  /** Whether the device can take no more work (its worker reported a fatal error, crashed or exited). */
  get dead(): Error | null {
    return this.fatal;
  }

  private die(e: Error): void {
    this.fatal ??= e;
    for (const w of [...this.waiting.values(), ...this.writing.values(), ...this.staging.values()]) w.reject(this.fatal);
    this.waiting.clear();
    this.writing.clear();
    this.staging.clear();
  }

  /** End the worker thread now, whatever it is doing (a device that does not answer a shutdown). */
  async terminate(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }

  send(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  run(modelId: string, task: RunMessage['task'], paramsVersion: number, prefetch: RunMessage['prefetch']): Promise<TaskReport> {
    if (this.fatal) return Promise.reject(this.fatal);
    const id = this.nextId++;
    this.lastRun = id;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ type: 'run', id, modelId, task, paramsVersion, prefetch });
    });
  }

  /** Whether the only current copy of the model's shard (any shard, without one) is on this device. */
  holdsDirty(modelId: string, shard?: number): boolean {
    return this.dirty.some((d) => d.modelId === modelId && (shard === undefined || d.shard === shard));
  }

  /** Write the model's (or one shard's) device-resident state back to the host tier; resolves once it is there. */
  writeBack(modelId: string, shard?: number): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.writing.set(id, { resolve, reject });
      this.send({ type: 'writeback', id, modelId, ...(shard !== undefined ? { shard } : {}) });
    });
  }

  /**
   * Copy a shard staged in host slot `slot` to the device beside the task sent last (two-level prefetch); resolves
   * with the bytes copied once they have landed (0: declined), so the slot can be unpinned.
   */
  stage(modelId: string, shard: number, paramsVersion: number, slot: number): Promise<number> {
    if (this.fatal) return Promise.reject(this.fatal);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.staging.set(id, { resolve, reject });
      this.send({ type: 'stage', id, runId: this.lastRun, modelId, shard, paramsVersion, slot });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.fatal) return void (await this.worker.terminate());
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** `shardCache`: keep shard parameters on each device between tasks (shard-cache.ts). */
export async function startDevices(spec: DeviceSpec, budget: number, shardCache = true): Promise<DeviceHandle[]> {
  const out: DeviceHandle[] = [];
  // Mesa's EGL reads EGL_PLATFORM with getenv; a worker's process.env is a private copy, so it is set here.
  if (spec.kind === 'webgpu') prepareWebGpuEnvironment();
  try {
    for (let i = 0; i < spec.count; i++) out.push(await DeviceHandle.start(i, spec, budget, shardCache));
  } catch (e) {
    await Promise.all(out.map((d) => d.stop()));
    throw e;
  }
  return out;
}
