/**
 * What the dashboard and the report show, folded from the job's HydraEvent stream (the events events.jsonl records)
 * and the job's description (job.json). One reducer for the live page, `hydra dashboard RUN_DIR` and report.html:
 * the browser bundle runs this same code, so every view of a job shows the same numbers. No Node imports.
 */
import type { HydraEvent, ModelStatus, PartitionPlan, TaskKind } from '../hydra/api.js';
import { describeStop } from '../hydra/scheduler/early-stopping/types.js';
import type { JobMeta } from './job-meta.js';

export interface EvalPoint {
  /** Steps the model had taken when it was evaluated. */
  step: number;
  epoch: number;
  loss: number;
  perplexity: number;
}

export interface ModelView {
  name: string;
  index: number;
  hparams: Record<string, string | number | boolean>;
  /** Steps the model will take (from job.json), when known. */
  totalSteps?: number;
  status: 'waiting' | 'running' | ModelStatus;
  reason?: string;
  /** Training loss of every step event, in step order (index = step). */
  losses: number[];
  /** Job time (s) of every step event. */
  stepTimes: number[];
  evals: EvalPoint[];
  /** Early-stopping decisions at its rungs, in order (step: steps taken at the rung). */
  rungs: { step: number; action: 'continue' | 'stop' }[];
  plan?: PartitionPlan;
  /** Job time of the model's first task (it starts when the scheduler first picks it). */
  startedAt?: number;
  deviceSeconds: number;
}

export interface TaskView {
  device: number;
  model: number;
  kind: TaskKind;
  shard: number;
  step: number;
  /** Job time the device took the task, began computing (after waiting for copies) and ended. */
  assigned: number;
  start: number;
  end: number;
  bytesIn: number;
  bytesOut: number;
  prefetchedBytes: number;
  overlapSeconds: number;
}

export interface JobView {
  meta?: JobMeta;
  models: ModelView[];
  byName: Map<string, ModelView>;
  /** Finished tasks, one per task-end event. */
  tasks: TaskView[];
  /** Tasks started and not yet ended, by device. */
  running: Map<number, { model: number; kind: TaskKind; shard: number; step: number; assigned: number }>;
  /** Devices seen in task events (0..n-1). */
  deviceCount: number;
  /** Latest job time seen. */
  now: number;
  /** Events folded so far. */
  eventCount: number;
  logs: { t: number; message: string }[];
  checkpoints: number;
  /** The host tier's bytes in use after each host-alloc / host-release event, at its job time. */
  hostTier: { t: number; inUse: number }[];
  /**
   * A resumed job appends its events to the stopped job's file, with its clock starting again at 0: later segments
   * are shifted to follow the earlier ones (by this offset).
   */
  offset: number;
  /** The latest event time as the job wrote it (before the offset). */
  rawNow: number;
}

export function emptyView(meta?: JobMeta): JobView {
  const view: JobView = { meta, models: [], byName: new Map(), tasks: [], running: new Map(), deviceCount: 0, now: 0, eventCount: 0, logs: [], checkpoints: 0, hostTier: [], offset: 0, rawNow: 0 };
  for (const m of meta?.models ?? []) modelOf(view, m.name);
  return view;
}

function modelOf(view: JobView, name: string): ModelView {
  let m = view.byName.get(name);
  if (!m) {
    const known = view.meta?.models.find((x) => x.name === name);
    m = { name, index: view.models.length, hparams: known?.hparams ?? {}, totalSteps: known?.totalSteps, status: 'waiting', losses: [], stepTimes: [], evals: [], rungs: [], deviceSeconds: 0 };
    view.models.push(m);
    view.byName.set(name, m);
  }
  return m;
}

export function applyEvent(view: JobView, e: HydraEvent): void {
  view.eventCount++;
  if (e.type === 'plan') {
    const m = modelOf(view, e.model);
    m.plan = e.plan;
    m.status = 'waiting';
    m.reason = undefined;
    return;
  }
  // A resumed job's segment is a new process: its clock starts again at 0 (within one process job time only grows;
  // models are planned while others train, so a plan event does not mark a segment).
  if (e.t < view.rawNow - 1e-3) {
    view.offset = view.now;
    view.running.clear();
    view.hostTier.push({ t: view.offset, inUse: 0 }); // and its host tier starts empty
  }
  view.rawNow = e.t;
  const t = e.t + view.offset;
  view.now = Math.max(view.now, t);
  switch (e.type) {
    case 'task-start': {
      const m = modelOf(view, e.model);
      if (m.status === 'waiting') m.status = 'running';
      m.startedAt ??= t;
      view.deviceCount = Math.max(view.deviceCount, e.device + 1);
      view.running.set(e.device, { model: m.index, kind: e.kind, shard: e.shard, step: e.step, assigned: t });
      return;
    }
    case 'task-end': {
      const m = modelOf(view, e.model);
      const started = view.running.get(e.device);
      view.running.delete(e.device);
      view.deviceCount = Math.max(view.deviceCount, e.device + 1);
      const assigned = started && started.model === m.index ? started.assigned : t - e.computeSeconds;
      view.tasks.push({
        device: e.device, model: m.index, kind: e.kind, shard: e.shard, step: e.step,
        assigned, start: Math.max(assigned, t - e.computeSeconds), end: t,
        bytesIn: e.bytesIn, bytesOut: e.bytesOut, prefetchedBytes: e.prefetchedBytes, overlapSeconds: e.overlapSeconds,
      });
      m.deviceSeconds += e.computeSeconds;
      return;
    }
    case 'step': {
      const m = modelOf(view, e.model);
      // A model retrained from an earlier step (resumed without a checkpoint) replaces its later points.
      if (e.step < m.losses.length) {
        m.losses.length = e.step;
        m.stepTimes.length = e.step;
        m.evals = m.evals.filter((v) => v.step <= e.step);
        m.rungs = m.rungs.filter((r) => r.step <= e.step);
      }
      // events.jsonl writes a non-finite loss as null.
      m.losses[e.step] = e.loss ?? Number.NaN;
      m.stepTimes[e.step] = t;
      return;
    }
    case 'eval': {
      const m = modelOf(view, e.model);
      m.evals.push({ step: m.losses.length, epoch: e.epoch, loss: e.loss ?? Number.NaN, perplexity: e.perplexity ?? Number.NaN });
      return;
    }
    case 'model-end': {
      const m = modelOf(view, e.model);
      m.status = e.status;
      m.reason = e.reason;
      return;
    }
    case 'checkpoint':
      view.checkpoints++;
      return;
    case 'log':
      view.logs.push({ t, message: e.message });
      return;
    case 'rung':
      modelOf(view, e.model).rungs.push({ step: e.step, action: e.action });
      // Continuing past a rung is the normal course; a stop is worth a line (its model-end carries the status).
      if (e.action === 'stop') view.logs.push({ t, message: `${e.model}: ${e.reason ? describeStop(e.reason) : `stopped early at step ${e.step}`}` });
      return;
    case 'model-added':
      modelOf(view, e.model);
      return;
    case 'host-alloc':
    case 'host-release':
      view.hostTier.push({ t, inUse: e.inUse });
      return;
  }
}

export function buildView(events: Iterable<HydraEvent>, meta?: JobMeta): JobView {
  const view = emptyView(meta);
  for (const e of events) applyEvent(view, e);
  return view;
}

/** Per-model figures for the table. */
export interface ModelFigures {
  steps: number;
  lastLoss?: number;
  lastEval?: EvalPoint;
  /** Training tokens per second of job time since the model's first task. */
  tokensPerSecond?: number;
  /** Seconds until the model finishes at its pace over its last (up to) 10 steps. */
  etaSeconds?: number;
}

const PACE_WINDOW = 10;

export function modelFigures(m: ModelView, now: number): ModelFigures {
  const steps = m.losses.length;
  const f: ModelFigures = { steps, lastLoss: steps > 0 ? m.losses[steps - 1] : undefined, lastEval: m.evals.at(-1) };
  if (steps > 0 && m.plan && m.startedAt !== undefined) {
    const span = m.stepTimes[steps - 1] - m.startedAt;
    if (span > 0) f.tokensPerSecond = (steps * m.plan.B * m.plan.T) / span;
  }
  if (m.status === 'running' && m.totalSteps !== undefined && steps > 0) {
    const last = steps - 1, from = Math.max(0, last - PACE_WINDOW);
    const perStep = last > from ? (m.stepTimes[last] - m.stepTimes[from]) / (last - from) : m.stepTimes[0] - (m.startedAt ?? 0);
    f.etaSeconds = Math.max(0, (m.totalSteps - steps) * perStep - (now - m.stepTimes[last]));
  } else if (m.status !== 'running' && m.status !== 'waiting') f.etaSeconds = 0;
  return f;
}

/**
 * The job's ETA: the latest of its models' (models share the devices, so each model's own pace already includes
 * the others'); undefined while a model has no pace yet.
 */
export function jobEta(view: JobView): number | undefined {
  let eta = 0;
  for (const m of view.models) {
    if (m.status !== 'running' && m.status !== 'waiting') continue;
    const f = modelFigures(m, view.now).etaSeconds;
    if (f === undefined) return undefined;
    eta = Math.max(eta, f);
  }
  return eta;
}

/** A model's smoothed curve: TensorBoard's exponential moving average, debiased so the first points are not pulled to 0. */
export function smooth(values: readonly number[], weight: number): number[] {
  const out: number[] = [];
  let acc = 0, n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    acc = acc * weight + (1 - weight) * v;
    n++;
    out.push(weight === 0 ? v : acc / (1 - weight ** n));
  }
  return out;
}

/**
 * Device memory over time as the planner sees it: while a task runs, its shard's exact planned peak (training peak
 * for FL/B, forward peak for F/E), else 0. Aligned for one chart: the times where any device changes, and each
 * device's bytes from that time on.
 */
export function memorySeries(view: JobView): { times: number[]; devices: number[][] } {
  const peak = (model: number, kind: TaskKind, shard: number) => {
    const s = view.models[model]?.plan?.shards[shard];
    return s ? (kind === 'F' || kind === 'E' ? s.peakBytes.forward : s.peakBytes.train) : 0;
  };
  const changes: { t: number; device: number; bytes: number }[] = [];
  for (const t of view.tasks) changes.push({ t: t.assigned, device: t.device, bytes: peak(t.model, t.kind, t.shard) }, { t: t.end, device: t.device, bytes: 0 });
  for (const [device, r] of view.running) changes.push({ t: r.assigned, device, bytes: peak(r.model, r.kind, r.shard) });
  // At equal times an end sorts before a start, so back-to-back tasks do not read as 0 in between.
  changes.sort((a, b) => a.t - b.t || a.bytes - b.bytes);
  const current = new Array<number>(view.deviceCount).fill(0);
  const out = { times: [0], devices: current.map(() => [0]) };
  for (const c of changes) {
    current[c.device] = c.bytes;
    if (out.times[out.times.length - 1] === c.t) for (let d = 0; d < current.length; d++) out.devices[d][out.times.length - 1] = current[d];
    else {
      out.times.push(c.t);
      for (let d = 0; d < current.length; d++) out.devices[d].push(current[d]);
    }
  }
  // Hold the last values up to now, so the chart's time axis ends with the job's.
  if (view.now > out.times[out.times.length - 1]) {
    out.times.push(view.now);
    for (let d = 0; d < current.length; d++) out.devices[d].push(current[d]);
  }
  return out;
}

/**
 * The host tier's bytes in use over job time: 0 at the start, one point per host-alloc / host-release event (a
 * resumed segment starts again from its own allocations), held up to now.
 */
export function hostTierSeries(view: JobView): { times: number[]; inUse: number[] } {
  const out = { times: [0], inUse: [0] };
  for (const p of view.hostTier) {
    out.times.push(p.t);
    out.inUse.push(p.inUse);
  }
  if (view.now > out.times[out.times.length - 1]) {
    out.times.push(view.now);
    out.inUse.push(out.inUse[out.inUse.length - 1]);
  }
  return out;
}

/**
 * The loss axis ignores outliers (as TensorBoard does by default), so one diverging model's huge losses do not
 * flatten every other curve (they run off the top instead): it spans the lowest value up to the highest within a
 * fence above the 90th percentile (three times its distance from the lowest).
 */
export function lossRange(series: readonly (number | null)[][]): [number, number] | null {
  const v = series.flat().filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const lo = v[0], q = v[Math.floor(0.9 * (v.length - 1))];
  const fence = q + 3 * (q - lo);
  const hi = v.filter((x) => x <= fence).at(-1)!;
  const pad = Math.max((hi - lo) * 0.05, Math.abs(hi) * 1e-3, 1e-9);
  return [lo - pad, hi + pad];
}

/** Hyper-parameters that differ between models: the table's columns (the others are the same for every model). */
export function varyingHparams(models: readonly ModelView[]): string[] {
  const keys = new Set<string>();
  for (const m of models) for (const k of Object.keys(m.hparams)) keys.add(k);
  return [...keys].filter((k) => new Set(models.map((m) => String(m.hparams[k]))).size > 1);
}
