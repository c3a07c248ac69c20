/**
 * What the scheduler is told about where shard parameters are (its Locality): per device, the shards its cache held
 * after its latest task (reported by the worker) and the prefetch sent with its running task; a copy counts only at
 * its model's current parameter version. Copy times are measured: each device's bytes copied over the seconds its
 * tasks waited for them, so the switching cost a policy weighs is this machine's, not a constant.
 */
import type { TaskReport } from '../run/worker-protocol.js';
import { prefetchIsSafe } from '../run/prefetch-safety.js';
import type { Locality } from '../scheduler/types.js';
import type { ModelJob } from './model-job.js';

type Prefetch = { modelId: string; shard: number; paramsVersion: number } | null;

const keyOf = (modelId: string, shard: number) => `${shard}\u0000${modelId}`;

export class JobLocality implements Locality {
  /** Scheduler index → model (the order the scheduler was given its models, then added ones). */
  readonly order: ModelJob[] = [];
  private readonly resident: Map<string, number>[];
  private readonly prefetching: Prefetch[];
  private readonly copiedBytes: Float64Array;
  private readonly copySecondsSum: Float64Array;

  constructor(
    devices: number,
    private readonly prefetchOn: boolean,
  ) {
    this.resident = Array.from({ length: devices }, () => new Map());
    this.prefetching = new Array<Prefetch>(devices).fill(null);
    this.copiedBytes = new Float64Array(devices);
    this.copySecondsSum = new Float64Array(devices);
  }

  /** The device starts a task, with this prefetch beside it. */
  started(device: number, prefetch: Prefetch): void {
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
