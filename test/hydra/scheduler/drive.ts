/**
 * A minimal executor for scheduler tests: deterministic durations, and — like a careful real executor — it only ever
 * offers work to the devices that `complete`/`fail` report idle (plus all devices at the start). If the scheduler
 * forgot an idle device, a run would stall here and the test would fail.
 */
import assert from 'node:assert/strict';
import { Scheduler, type ModelSpec, type SchedulerOptions, type Task, type TaskRef } from '../../../src/hydra/scheduler/index.js';

export interface Run {
  sched: Scheduler;
  /** Every assigned task with its start and end time, in assignment order. */
  log: { task: Task; start: number; end: number }[];
  makespan: number;
}

export interface DriveOptions extends SchedulerOptions {
  /** True device speeds (default all 1); the scheduler is not told, it learns them from the measurements. */
  trueSpeeds?: number[];
  /** Call before each completion is reported; may fail models. */
  onComplete?: (task: Task, sched: Scheduler, now: number) => number[] | void;
  /** Multiply the true durations of a model's tasks (the pilot estimates stay as given). */
  slowdown?: Record<string, number>;
}

export function drive(models: ModelSpec[], devices: number, o: DriveOptions = {}): Run {
  const sched = new Scheduler(models, devices, o);
  const log: Run['log'] = [];
  const inFlight = new Set<number>();
  const pending: { end: number; task: Task; seconds: number }[] = [];
  const offer = (devs: number[], now: number) => {
    for (const d of devs) {
      const t = sched.assign(d, now);
      if (!t) continue;
      assert.ok(!inFlight.has(t.model), `model ${t.modelId} got a second task in flight (${t.kind}${t.shard})`);
      inFlight.add(t.model);
      const spec = sched.models[t.model].spec; // (models added while running are not in `models`)
      const seconds = (spec.shards[t.shard][t.kind] * (o.slowdown?.[t.modelId] ?? 1)) / (o.trueSpeeds?.[d] ?? 1);
      log.push({ task: t, start: now, end: now + seconds });
      pending.push({ end: now + seconds, task: t, seconds });
    }
  };
  offer(sched.idleDevices(), 0);
  let now = 0;
  while (pending.length > 0) {
    pending.sort((a, b) => a.end - b.end || a.task.seq - b.task.seq);
    const { end, task, seconds } = pending.shift()!;
    now = end;
    inFlight.delete(task.model);
    let idle = sched.complete(task, seconds, now);
    const extra = o.onComplete?.(task, sched, now);
    if (extra) idle = extra;
    offer(idle, now);
  }
  assert.ok(sched.isDone(), 'every device is idle but the scheduler is not done: a device or a task was lost');
  return { sched, log, makespan: now };
}

/** The task sequence of one model, written independently of the scheduler (the reference for order checks). */
export function expectedSequence(m: ModelSpec): string[] {
  const n = m.shards.length;
  const out: string[] = [];
  const spe = m.stepsPerEpoch ?? m.minibatches;
  const evalBatches = m.evalBatches ?? 0;
  const evalAfter = new Set(m.evalAfter ?? []);
  if (evalBatches > 0 && !m.evalAfter) {
    for (let s = spe - 1; s < m.minibatches; s += spe) evalAfter.add(s);
    evalAfter.add(m.minibatches - 1);
  }
  for (let s = 0; s < m.minibatches; s++) {
    for (let k = 0; k < n - 1; k++) out.push(`F${k}@${s}`);
    out.push(`FL${n - 1}@${s}`);
    for (let k = n - 2; k >= 0; k--) out.push(`B${k}@${s}`);
    if (evalAfter.has(s)) for (let b = 0; b < evalBatches; b++) for (let k = 0; k < n; k++) out.push(`E${k}@${s}#${b}`);
  }
  return out;
}

export function label(t: TaskRef): string {
  return `${t.kind}${t.shard}@${t.minibatch}${t.kind === 'E' ? `#${t.evalBatch}` : ''}`;
}

/** A uniform model: n shards, F = f, B = FL = 3f, E = f. */
export function uniformModel(id: string, n: number, minibatches: number, f = 1, extra: Partial<ModelSpec> = {}): ModelSpec {
  return { id, shards: Array.from({ length: n }, () => ({ F: f, FL: 3 * f, B: 3 * f, E: f, paramBytes: 1000 })), minibatches, ...extra };
}

/** A mixed workload: different shard counts, lengths, evaluation passes. */
export function mixedModels(): ModelSpec[] {
  return [
    uniformModel('a', 3, 4, 1, { stepsPerEpoch: 2, evalBatches: 2 }),
    uniformModel('b', 1, 6, 2),
    uniformModel('c', 4, 2, 0.5, { evalBatches: 1 }),
    uniformModel('d', 2, 5, 1.5),
    uniformModel('e', 5, 1, 1, { evalBatches: 3, evalAfter: [0] }),
  ];
}
