/**
 * Running a batch of segments on this machine's devices with the ordinary engine (`train()` from the public API):
 * each model is resumed from its checkpoint at the segment's start (fetched from the store), trained together with
 * the others (SHARP, Sharded-LRTF) up to the segment's end (`stopAtStep`), and its checkpoint there is committed to
 * the store. The step index is a model's whole training position, so a model trained segment by segment on any
 * workers ends bitwise where one uninterrupted run would.
 *
 * Exactly-once effect: a segment counts as applied once its end checkpoint exists in the store (a `put` is atomic,
 * and the segment's record is written before it). A segment replayed after that — its worker died between the
 * commit and BullMQ's completion, or its lock expired while it was committing — is recognised and not trained again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HydraEvent, JobResult, PolicyName, TrainOptions, TrainTask } from '../index.js';
import { fsSafeNames } from '../report/names.js';
import type { Store } from './store.js';
import { checkpointKey, recordKey, type ClusterJobSpec, type SegmentJobData, type SegmentRecord } from './spec.js';

/** A submitted job made runnable on this machine: its tasks exactly as `hydra train` builds them. */
export interface LocalJob {
  spec: ClusterJobSpec;
  tasks: TrainTask[];
  policy?: PolicyName;
  policySeed?: number;
  prefetch?: boolean;
  activations?: TrainOptions['activations'];
}

export interface RunnerOptions {
  store: Store;
  train: (tasks: TrainTask[], options: TrainOptions) => Promise<JobResult>;
  devices: string;
  deviceMemory: string | number;
  hostMemory?: string | number;
  planDir?: string | null;
  /** Local scratch space (each batch gets its own directory, removed after). */
  workDir: string;
  worker: string;
  log: (line: string) => void;
}

export interface SegmentOutcome {
  record: SegmentRecord;
  /** True when the segment had already been applied (its checkpoint was in the store): nothing was trained. */
  replayed: boolean;
}

/** The record of a segment already applied, if it was. */
export async function appliedRecord(store: Store, spec: ClusterJobSpec, seg: SegmentJobData): Promise<SegmentRecord | null> {
  const safe = safeOf(spec, seg.model);
  const raw = await store.getBytes(recordKey(spec.name, safe, seg.index));
  if (!raw) return null;
  const record = JSON.parse(raw.toString('utf8')) as SegmentRecord;
  // A record without its checkpoint is a commit that died half-way (unless the model ended without one).
  if (record.status === 'diverged' || record.status === 'failed') return record;
  return (await store.exists(checkpointKey(spec.name, safe, seg.to))) ? record : null;
}

export async function runSegments(job: LocalJob, segs: SegmentJobData[], o: RunnerOptions): Promise<SegmentOutcome[]> {
  const { spec } = job;
  const outcomes = new Map<SegmentJobData, SegmentOutcome>();
  const todo: SegmentJobData[] = [];
  for (const seg of segs) {
    const done = await appliedRecord(o.store, spec, seg);
    if (done) {
      o.log(`${seg.model}: segment ${seg.index} (steps ${seg.from}–${seg.to}) was already applied by ${done.worker}; not training it again`);
      outcomes.set(seg, { record: done, replayed: true });
    } else {
      todo.push(seg);
    }
  }
  if (todo.length > 0) {
    const dir = await mkdtemp(join(o.workDir, 'segments-'));
    try {
      for (const r of await trainSegments(job, todo, dir, o)) outcomes.set(r.seg, { record: r.record, replayed: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return segs.map((s) => outcomes.get(s)!);
}

async function trainSegments(job: LocalJob, segs: SegmentJobData[], dir: string, o: RunnerOptions): Promise<{ seg: SegmentJobData; record: SegmentRecord }[]> {
  const { spec } = job;
  const byName = new Map(job.tasks.map((t) => [t.name, t]));
  // The engine names checkpoints `<dir>/<safe name>.ckpt` over the models of the call (TrainOptions.checkpointDir).
  const local = fsSafeNames(segs.map((s) => s.model));
  for (const seg of segs) {
    if (seg.from === 0) continue;
    const key = checkpointKey(spec.name, safeOf(spec, seg.model), seg.from);
    if (!(await o.store.getFile(key, join(dir, `${local.get(seg.model)!}.ckpt`)))) {
      throw new Error(`${seg.model}: segment ${seg.index} starts at step ${seg.from} but the store ${o.store.display} has no checkpoint ${key}`);
    }
  }
  const tasks = segs.map((seg) => {
    const t = byName.get(seg.model);
    if (!t) throw new Error(`job '${spec.name}' has no model '${seg.model}' on this worker (was the config changed after submitting?)`);
    const total = spec.models.find((m) => m.name === seg.model)!.totalSteps;
    return seg.to < total ? { ...t, stopAtStep: seg.to } : t;
  });
  const offset = (Date.now() - Date.parse(spec.submittedAt)) / 1000;
  const events = new Map<string, unknown[]>(segs.map((s) => [s.model, []]));
  const onEvent = (e: HydraEvent) => {
    if ('model' in e) events.get(e.model)?.push({ ...e, t: 't' in e ? e.t + offset : undefined });
  };
  o.log(`training ${segs.map((s) => `${s.model} [${s.from}, ${s.to})`).join(', ')}`);
  const started = performance.now();
  const result = await o.train(tasks, {
    devices: o.devices,
    deviceMemory: o.deviceMemory,
    hostMemory: o.hostMemory,
    policy: job.policy,
    policySeed: job.policySeed,
    prefetch: job.prefetch,
    activations: job.activations,
    planDir: o.planDir,
    checkpointDir: dir,
    // Segment ends are multiples of segmentSteps (or the model's last step), so this adds no checkpoint inside a
    // segment; what it adds is the finished model's checkpoint when a segment runs to the end from step 0 (one
    // segment for the whole model), which train() writes only for a checkpointed model — the segment's commit.
    checkpointEvery: spec.segmentSteps,
    resume: segs.some((s) => s.from > 0),
    onEvent,
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const endedAt = (Date.now() - Date.parse(spec.submittedAt)) / 1000;
  const out: { seg: SegmentJobData; record: SegmentRecord }[] = [];
  for (const seg of segs) {
    const m = result.models.find((x) => x.name === seg.model)!;
    const record: SegmentRecord = {
      ...seg, status: m.status, reason: m.reason, worker: o.worker, endedAt, deviceSeconds: m.deviceSeconds, trainSeconds, plan: m.plan, events: events.get(seg.model)!,
    };
    const safe = safeOf(spec, seg.model);
    if (m.status === 'done' || m.status === 'stopped') {
      if (m.checkpoint?.step !== seg.to) {
        throw new Error(`${seg.model}: segment ${seg.index} should end with a checkpoint at step ${seg.to}, got ${m.checkpoint ? `step ${m.checkpoint.step}` : 'none'} (${m.reason ?? m.status})`);
      }
      // The record first, the checkpoint last: the checkpoint's existence is the commit.
      await o.store.putBytes(recordKey(spec.name, safe, seg.index), Buffer.from(JSON.stringify(record)));
      await o.store.putFile(checkpointKey(spec.name, safe, seg.to), m.checkpoint.path);
    } else {
      // Diverged or failed: the model ends here; the record is the commit.
      await o.store.putBytes(recordKey(spec.name, safe, seg.index), Buffer.from(JSON.stringify(record)));
    }
    out.push({ seg, record });
  }
  return out;
}

export function safeOf(spec: ClusterJobSpec, model: string): string {
  const m = spec.models.find((x) => x.name === model);
  if (!m) throw new Error(`job '${spec.name}' has no model '${model}'`);
  return m.safe;
}
