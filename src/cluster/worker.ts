/**
 * A cluster worker: a BullMQ worker that holds up to K segments at once and trains them together (one `train()` call
 * per batch, so SHARP and Sharded-LRTF share this machine's devices among them). BullMQ renews each held segment's
 * lock while it trains; a worker that dies loses its locks and its segments are moved back to the queue by the
 * stalled-job check of any live worker, to be retried from the last committed checkpoint.
 *
 * After a segment is committed to the store, the model's next segment is enqueued under a deterministic job id
 * (adding it twice adds it once), then the segment's job completes: a crash anywhere in between is repaired by the
 * replay, which finds the checkpoint, does not train again, and enqueues the next segment (its progress update is
 * dropped when the model is already further on: model-states.ts).
 */
import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Store } from './store.js';
import { runSegments, type LocalJob, type RunnerOptions, type SegmentOutcome } from './segment-runner.js';
import { segmentJobOptions } from './submit.js';
import { publishStates } from './model-states.js';
import {
  BULL_PREFIX, QUEUE_NAME, REDIS_WORKERS, segmentAt, specKey,
  type ClusterJobSpec, type ModelState, type SegmentJobData, type SegmentRecord,
} from './spec.js';

export interface ClusterWorkerOptions extends Omit<RunnerOptions, 'worker'> {
  redis: Redis;
  store: Store;
  /** Segments held and trained together (K). */
  models: number;
  /** Make a submitted job runnable here (download data, build tasks); called once per job. */
  materialise: (spec: ClusterJobSpec) => Promise<LocalJob>;
  /** How long a held segment's lock lasts without renewal: a dead worker's segments are retried after it. */
  lockMs?: number;
  /** How often this worker looks for segments whose worker died. */
  stalledCheckMs?: number;
  /** After the first segment arrives, wait this long for more before training (so up to K train together). */
  gatherMs?: number;
  worker?: string;
}

interface Held {
  seg: SegmentJobData;
  resolve: (r: SegmentRecord) => void;
  reject: (e: unknown) => void;
}

export class ClusterWorker {
  readonly id: string;
  private readonly bull: Worker<SegmentJobData, SegmentRecord>;
  private readonly queue: Queue;
  private readonly jobs = new Map<string, Promise<LocalJob>>();
  private readonly held: Held[] = [];
  private batching: Promise<void> | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  private training: string[] = [];

  constructor(private readonly o: ClusterWorkerOptions) {
    this.id = o.worker ?? `${hostname()}:${process.pid}`;
    this.queue = new Queue(QUEUE_NAME, { connection: o.redis, prefix: BULL_PREFIX });
    const lockDuration = o.lockMs ?? 30_000;
    this.bull = new Worker<SegmentJobData, SegmentRecord>(QUEUE_NAME, (job) => this.process(job), {
      connection: o.redis,
      prefix: BULL_PREFIX,
      concurrency: o.models,
      lockDuration,
      stalledInterval: o.stalledCheckMs ?? Math.max(1000, Math.floor(lockDuration / 2)),
      // A stall is a dead worker, not a bad segment: keep retrying it (the bound only stops a runaway loop).
      maxStalledCount: 1000,
      autorun: false,
    });
    this.bull.on('error', (e) => o.log(`queue: ${e.message}`));
    this.bull.on('failed', (job, e) => job && void this.onFailed(job, e));
    this.heartbeat = setInterval(() => void this.beat(), 2000);
    this.heartbeat.unref();
  }

  /** Start taking segments; resolves when the worker has been closed. */
  async run(): Promise<void> {
    await this.beat();
    this.o.log(`worker ${this.id}: ${this.o.devices} with ${String(this.o.deviceMemory)} each, up to ${this.o.models} segment${this.o.models === 1 ? '' : 's'} at once, store ${this.o.store.display}`);
    await this.bull.run();
  }

  /** Stop taking segments and finish those held (graceful), then leave. */
  async close(): Promise<void> {
    await this.bull.close();
    clearInterval(this.heartbeat);
    await this.queue.close();
    await this.o.redis.hdel(REDIS_WORKERS, this.id).catch(() => {});
  }

  private async beat(): Promise<void> {
    const info = { devices: this.o.devices, models: this.o.models, since: this.startedAt, lastSeen: new Date().toISOString(), training: this.training };
    await this.o.redis.hset(REDIS_WORKERS, this.id, JSON.stringify(info)).catch(() => {});
  }

  private process(job: Job<SegmentJobData, SegmentRecord>): Promise<SegmentRecord> {
    return new Promise<SegmentRecord>((resolve, reject) => {
      this.held.push({ seg: job.data, resolve, reject });
      this.batching ??= this.batchLoop();
    });
  }

  /** Train what is held, batch after batch, until nothing is held. */
  private async batchLoop(): Promise<void> {
    for (;;) {
      // Checked and cleared in one synchronous step: a segment arriving later starts a new loop.
      if (this.held.length === 0) {
        this.batching = null;
        return;
      }
      if (this.o.models > 1) await new Promise((r) => setTimeout(r, this.o.gatherMs ?? 300));
      const batch = this.held.splice(0);
      // Same job, same train() call; different jobs one after the other.
      const byJob = new Map<string, Held[]>();
      for (const h of batch) byJob.set(h.seg.job, [...(byJob.get(h.seg.job) ?? []), h]);
      for (const [name, hs] of byJob) {
        try {
          const outcomes = await this.runBatch(name, hs.map((h) => h.seg));
          hs.forEach((h, i) => h.resolve(outcomes[i].record));
        } catch (e) {
          for (const h of hs) h.reject(e);
        }
      }
    }
  }

  private async runBatch(name: string, segs: SegmentJobData[]): Promise<SegmentOutcome[]> {
    let job = this.jobs.get(name);
    if (!job) {
      job = this.loadJob(name);
      this.jobs.set(name, job);
      job.catch(() => this.jobs.delete(name)); // retried on the next segment
    }
    const local = await job;
    this.training = segs.map((s) => `${s.model}#${s.index}`);
    await this.setStates(local.spec, segs.map((s) => [s.model, { step: s.from, state: 'running', worker: this.id }]));
    let outcomes: SegmentOutcome[];
    try {
      outcomes = await runSegments(local, segs, { ...this.o, worker: this.id });
    } finally {
      this.training = [];
    }
    for (const { record } of outcomes) await this.commitNext(local.spec, record);
    return outcomes;
  }

  /** A segment's attempt threw: say so, and in status — queued again, or failed once its attempts are spent. */
  private async onFailed(job: Job<SegmentJobData, SegmentRecord>, e: Error): Promise<void> {
    const seg = job.data;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    this.o.log(`${seg.model}: segment ${seg.index} failed (attempt ${job.attemptsMade}${final ? ', the last' : ''}): ${e.message}`);
    const local = await this.jobs.get(seg.job)?.catch(() => undefined);
    if (!local) return;
    const reason = `${final ? '' : `retrying after attempt ${job.attemptsMade}: `}${e.message}`;
    await this.setStates(local.spec, [[seg.model, { step: seg.from, state: final ? 'failed' : 'queued', reason }]]).catch(() => {});
  }

  private async loadJob(name: string): Promise<LocalJob> {
    const raw = await this.o.store.getBytes(specKey(name));
    if (!raw) throw new Error(`job '${name}' has no spec in the store ${this.o.store.display} (is this worker's --store the one the job was submitted to?)`);
    const spec = JSON.parse(raw.toString('utf8')) as ClusterJobSpec;
    this.o.log(`job ${name}: ${spec.models.length} models, segments of ${spec.segmentSteps} steps`);
    return this.o.materialise(spec);
  }

  /** After a commit: enqueue the model's next segment (idempotent) and publish its progress. */
  private async commitNext(spec: ClusterJobSpec, r: SegmentRecord): Promise<void> {
    const i = spec.models.findIndex((m) => m.name === r.model);
    const total = spec.models[i].totalSteps;
    if (r.status === 'stopped' && r.to < total) {
      const next = segmentAt(spec, i, r.index + 1);
      await this.queue.add('segment', next, segmentJobOptions(spec, next));
      await this.setStates(spec, [[r.model, { step: r.to, state: 'queued' }]]);
    } else {
      const state = r.status === 'diverged' || r.status === 'failed' ? r.status : 'done';
      await this.setStates(spec, [[r.model, { step: r.status === 'done' ? total : r.from, state, reason: r.reason, worker: r.worker }]]);
    }
  }

  private async setStates(spec: ClusterJobSpec, updates: [string, Omit<ModelState, 'total'>][]): Promise<void> {
    await publishStates(this.o.redis, spec, updates);
  }
}
