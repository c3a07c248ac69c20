/**
 * What a submitted cluster job is, and where its pieces live. One source of truth for the store's keys, the Redis
 * keys, the BullMQ queue name and job ids, and the segment arithmetic: segment k of a model trains steps
 * [k·segmentSteps, min((k+1)·segmentSteps, totalSteps)).
 */

import type { ModelStatus } from '../index.js';

export const QUEUE_NAME = 'hydra-segments';
export const BULL_PREFIX = 'hydra';

export interface DataBlob {
  /** sha256 of the file's bytes, hex. */
  hash: string;
  bytes: number;
  /** The file it came from on the submitting machine (for messages only). */
  file: string;
}

export interface ClusterModel {
  name: string;
  /** Its file-system-safe name (store keys, models/ directories). */
  safe: string;
  totalSteps: number;
}

export interface ClusterJobSpec {
  version: 1;
  name: string;
  submittedAt: string;
  /** The config document as written (data paths are replaced by the blobs below on each worker). */
  config: Record<string, unknown>;
  data: { train: DataBlob; eval?: DataBlob };
  segmentSteps: number;
  models: ClusterModel[];
}

/** The unit of work on the queue: one model's steps [from, to). */
export interface SegmentJobData {
  job: string;
  model: string;
  index: number;
  from: number;
  to: number;
}

/** What a worker reports for a finished segment (the BullMQ job's return value, and the store's record). */
export interface SegmentRecord extends SegmentJobData {
  /** 'stopped': the segment ended before the model's last step (the model goes on); anything else ends the model. */
  status: ModelStatus;
  reason?: string;
  worker: string;
  /** Seconds since the job was submitted when the segment ended. */
  endedAt: number;
  deviceSeconds: number;
  /** Wall seconds of the train() call that trained it (shared by the segments trained together; 0 when replayed). */
  trainSeconds: number;
  /** The model's plan on that worker (results.json reports it). */
  plan: unknown;
  /** The segment's events (t: seconds since submission). */
  events: unknown[];
}

export function segmentCount(totalSteps: number, segmentSteps: number): number {
  return Math.ceil(totalSteps / segmentSteps);
}

export function segmentAt(spec: ClusterJobSpec, modelIndex: number, index: number): SegmentJobData {
  const m = spec.models[modelIndex];
  const from = index * spec.segmentSteps;
  return { job: spec.name, model: m.name, index, from, to: Math.min(from + spec.segmentSteps, m.totalSteps) };
}

// ---- store keys ----
const pad = (n: number) => String(n).padStart(9, '0');
const jobKey = (job: string) => `jobs/${encodeURIComponent(job)}`;
export const specKey = (job: string) => `${jobKey(job)}/spec.json`;
export const dataKey = (hash: string) => `data/${hash}`;
export const checkpointKey = (job: string, safe: string, step: number) => `${jobKey(job)}/models/${safe}/ckpt-${pad(step)}.ckpt`;
export const recordKey = (job: string, safe: string, index: number) => `${jobKey(job)}/models/${safe}/segment-${pad(index)}.json`;
export const modelPrefix = (job: string, safe: string) => `${jobKey(job)}/models/${safe}/`;
export function stepOfCheckpointKey(key: string): number | undefined {
  const m = /\/ckpt-(\d+)\.ckpt$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

// ---- Redis keys (beside BullMQ's own under the same prefix) ----
export const REDIS_JOBS = `${BULL_PREFIX}:cluster:jobs`;
export const redisSpecKey = (job: string) => `${BULL_PREFIX}:cluster:job:${job}:spec`;
export const redisModelsKey = (job: string) => `${BULL_PREFIX}:cluster:job:${job}:models`;
export const REDIS_WORKERS = `${BULL_PREFIX}:cluster:workers`;

/** BullMQ job ids: deterministic, so enqueueing a segment twice (a replayed completion) adds it once. */
export function segmentJobId(spec: ClusterJobSpec, seg: SegmentJobData): string {
  const m = spec.models.findIndex((x) => x.name === seg.model);
  return `${encodeURIComponent(spec.name)}.m${m}.s${seg.index}`; // BullMQ refuses ':' in ids; encoding removes it
}

/** A model's progress as `hydra status` shows it (a Redis hash field per model). */
export interface ModelState {
  /** Steps committed to the store. */
  step: number;
  total: number;
  state: 'queued' | 'running' | 'done' | 'diverged' | 'failed';
  worker?: string;
  reason?: string;
}
