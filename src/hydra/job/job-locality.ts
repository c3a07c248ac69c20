/**
 * What the scheduler is told about where shard parameters are (its Locality): per device, the shards its cache held
 * after its latest task (reported by the worker) and the prefetch sent with its running task; a copy counts only at
 * its model's current parameter version. Copy times are measured: each device's bytes copied over the seconds its
 * tasks waited for them, so the switching cost a policy weighs is this machine's, not a constant.
 */
import type { TaskReport } from '../run/worker-protocol.js';
import { prefetchIsSafe } from '../run/prefetch-safety.js';
import type { Locality, TaskRef } from '../scheduler/types.js';
import type { LocalityTotals, PrefetchRefusal } from '../api.js';
import type { ModelJob } from './model-job.js';

type Prefetch = { modelId: string; shard: number; paramsVersion: number } | null;

export const emptyLocalityTotals = (): LocalityTotals => ({ hintsFollowed: 0, hintsBroken: 0, hintsTakenElsewhere: 0, noHint: 0, prefetchRefused: {}, copiedResidentElsewhere: 0 });

const keyOf = (modelId: string, shard: number) => `${shard}\u0000${modelId}`;

export class JobLocality implements Locality {
  /** Scheduler index → model (the order the scheduler was given its models, then added ones). */
  readonly order: ModelJob[] = [];
  private readonly resident: Map<string, number>[];
  private readonly prefetching: Prefetch[];
  private readonly copiedBytes: Float64Array;
  private readonly copySecondsSum: Float64Array;
  /** Per device, the hint (the scheduler's peek) given when its running task started: what it expects to run next. */
  private readonly hints: (TaskRef | null)[];
  /** Whether each device's latest hint has been judged (by its next task, or by another device taking that task). */
  private readonly judged: boolean[];
  /** What the hints and the cache were worth in this job (JobResult.locality). */
  readonly totals: LocalityTotals = emptyLocalityTotals();

  constructor(
    devices: number,
    private readonly prefetchOn: boolean,
  ) {
    this.resident = Array.from({ length: devices }, () => new Map());
    this.prefetching = new Array<Prefetch>(devices).fill(null);
    this.copiedBytes = new Float64Array(devices);
    this.copySecondsSum = new Float64Array(devices);
    this.hints = new Array<TaskRef | null>(devices).fill(null);
    this.judged = new Array<boolean>(devices).fill(true);
  }

  /**
   * The device starts `task`, with this prefetch beside it, on this hint of what it runs next (`refused`: why the
   * hinted shard is not prefetched). Judges the device's previous hint against the task it got.
   */
  started(device: number, task: TaskRef, hint: TaskRef | null, prefetch: Prefetch, refused: PrefetchRefusal | null): void {
    const t = this.totals;
    const previous = this.hints[device];
    if (!this.judged[device]) {
      if (previous && sameShard(previous, task)) t.hintsFollowed++;
      else t.hintsBroken++;
    }
    // Another device ran the task this device's hint named: that hint is broken too (the other device took it).
    for (let d = 0; d < this.hints.length; d++) {
      const h = this.hints[d];
      if (d !== device && !this.judged[d] && h && sameTask(h, task)) {
        this.judged[d] = true;
        t.hintsBroken++;
        t.hintsTakenElsewhere++;
      }
    }
    if (!this.localTo(device, task.model, task.shard) && this.residentElsewhere(device, task.model, task.shard)) t.copiedResidentElsewhere++;
    this.hints[device] = hint;
    this.judged[device] = hint === null;
    if (!hint) t.noHint++;
    if (refused) t.prefetchRefused[refused] = (t.prefetchRefused[refused] ?? 0) + 1;
    this.prefetching[device] = prefetch;
  }

  /** The device's task ended: what its cache holds now, and how long its copies took. */
  reported(device: number, rep: TaskReport): void {
    const m = this.resident[device];
    m.clear();
    for (const r of rep.resident) m.set(keyOf(r.modelId, r.shard), r.version);
    const bytes = rep.outcome.bytesIn + rep.outcome.bytesOut;
    if (bytes > 0 && rep.outcome.copySeconds > 0) {
      this.copiedBytes[device] += bytes;
      this.copySecondsSum[device] += rep.outcome.copySeconds;
    }
  }

  local(device: number, model: number, shard: number): boolean {
    return this.localTo(device, model, shard);
  }

  /** Whether another device's cache holds the shard at its current version (a task here copies it in again). */
  private residentElsewhere(device: number, model: number, shard: number): boolean {
    const j = this.order[model];
    const key = keyOf(j.name, shard);
    return this.resident.some((m, d) => d !== device && m.get(key) === j.paramsVersion[shard]);
  }

  private localTo(device: number, model: number, shard: number): boolean {
    const j = this.order[model];
    const version = j.paramsVersion[shard];
    if (this.resident[device].get(keyOf(j.name, shard)) === version) return true;
    const p = this.prefetching[device];
    return p !== null && p.modelId === j.name && p.shard === shard && p.paramsVersion === version;
  }

  /** 0 until the device has measured a copy: no preference without a measurement. */
  copySeconds(device: number, bytes: number): number {
    const s = this.copySecondsSum[device];
    return s > 0 ? (bytes * s) / this.copiedBytes[device] : 0;
  }

  prefetchable(model: number, shard: number): boolean {
    const j = this.order[model];
    return this.prefetchOn && prefetchIsSafe(j.rt, j.inFlight, { kind: 'F', shard });
  }
}

const sameTask = (a: TaskRef, b: TaskRef) => a.modelId === b.modelId && a.kind === b.kind && a.shard === b.shard && a.minibatch === b.minibatch && a.evalBatch === b.evalBatch;
/** A hint is followed when the device runs the hinted model's hinted shard: a prefetch on it is used. */
const sameShard = (a: TaskRef, b: TaskRef) => a.modelId === b.modelId && a.shard === b.shard;
