/**
 * A cluster job's results, assembled from the store in the shape of a local job's `JobResult`: per model its final
 * checkpoint (weights, every loss, every evaluation) and its segment records (plan, device time, events), so
 * `hydra results` writes the same files as `hydra train`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelCheckpoint, type JobResult, type ModelResult, type PartitionPlan, type PolicyName } from '../index.js';
import type { Store } from './store.js';
import { checkpointKey, modelPrefix, stepOfCheckpointKey, recordKey, segmentCount, specKey, type ClusterJobSpec, type SegmentRecord } from './spec.js';

export interface CollectedJob {
  spec: ClusterJobSpec;
  result: JobResult;
  /** Every segment's events, in time order. */
  events: unknown[];
  /** Models not finished yet (no final record): name → steps committed. */
  unfinished: Map<string, number>;
}

export async function readSpec(store: Store, job: string): Promise<ClusterJobSpec> {
  const raw = await store.getBytes(specKey(job));
  if (!raw) throw new Error(`the store ${store.display} has no job '${job}' (${specKey(job)} is missing)`);
  return JSON.parse(raw.toString('utf8')) as ClusterJobSpec;
}

export async function collectJob(
  store: Store, spec: ClusterJobSpec, hparams: Map<string, Record<string, string | number | boolean>>, policy: PolicyName,
): Promise<CollectedJob> {
  const tmp = await mkdtemp(join(tmpdir(), 'hydra-results-'));
  const models: ModelResult[] = [];
  const events: unknown[] = [];
  const unfinished = new Map<string, number>();
  let makespan = 0;
  try {
    for (const m of spec.models) {
      const records: SegmentRecord[] = [];
      for (let i = 0; i < segmentCount(m.totalSteps, spec.segmentSteps); i++) {
        const raw = await store.getBytes(recordKey(spec.name, m.safe, i));
        if (!raw) break;
        const r = JSON.parse(raw.toString('utf8')) as SegmentRecord;
        // Committed only with its checkpoint (a diverged or failed record is its own commit).
        if ((r.status === 'stopped' || r.status === 'done') && !(await store.exists(checkpointKey(spec.name, m.safe, r.to)))) break;
        records.push(r);
        if (r.status !== 'stopped') break;
      }
      for (const r of records) events.push(...r.events);
      const last = records.at(-1);
      const ended = last !== undefined && last.status !== 'stopped';
      if (!ended) unfinished.set(m.name, last?.to ?? 0);
      const step = last ? (last.status === 'stopped' || last.status === 'done' ? last.to : last.from) : 0;
      const result: ModelResult = {
        name: m.name, hparams: hparams.get(m.name) ?? {}, status: ended ? last.status : 'stopped', reason: ended ? last.reason : `not finished: ${step} of ${m.totalSteps} steps committed`,
        losses: [], evals: [], steps: step, wallSeconds: last?.endedAt ?? 0, deviceSeconds: records.reduce((s, r) => s + r.deviceSeconds, 0),
        plan: (last?.plan ?? { key: '', arch: '', backend: '', B: 0, T: 0, budget: 0, reserve: 0, shards: [] }) as PartitionPlan, weights: new Map(),
      };
      if (result.status !== 'failed' && result.status !== 'diverged') delete result.reason;
      // Weights, losses and evaluations come from the last committed checkpoint (a diverged model: the one before it
      // diverged; its segment's events say the rest).
      const ckptStep = last && (last.status === 'stopped' || last.status === 'done') ? last.to : last?.from ?? 0;
      if (ckptStep > 0) {
        const local = join(tmp, `${m.safe}.ckpt`);
        if (!(await store.getFile(checkpointKey(spec.name, m.safe, ckptStep), local))) throw new Error(`${m.name}: checkpoint at step ${ckptStep} is missing from the store`);
        const ck = await loadModelCheckpoint(local);
        result.weights = ck.params;
        result.losses = ck.meta.progress?.losses ?? [];
        result.evals = ck.meta.progress?.evals ?? [];
      }
      makespan = Math.max(makespan, result.wallSeconds);
      models.push(result);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  events.sort((a, b) => ((a as { t?: number }).t ?? 0) - ((b as { t?: number }).t ?? 0));
  return { spec, events, unfinished, result: { models, makespanSeconds: makespan, devices: [], policy, bytesMoved: 0, overlapSeconds: 0 } };
}

/** Every committed checkpoint step of a model (for status and for tests of exactly-once). */
export async function checkpointSteps(store: Store, spec: ClusterJobSpec, safe: string): Promise<number[]> {
  const keys = await store.list(modelPrefix(spec.name, safe));
  return keys.map(stepOfCheckpointKey).filter((s): s is number => s !== undefined);
}
