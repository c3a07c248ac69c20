/**
 * bench:grid's simulator side: the same workload simulated, to put a predicted makespan beside each measured one.
 * The simulator runs the job's own plans through the executor's rules (from-plans.ts: the bytes each task copies;
 * engine.ts: the shard cache, prefetch and device-state rules); its costs are measured on this machine before the
 * timed runs, never taken from them:
 *   - copy bandwidth: a cpu device copying a buffer in and out the way a task does (a fresh allocation each time,
 *     so first-touch page faults are in it), median of several;
 *   - task seconds: the pilot pass (per layer, the fastest of a few repetitions, summed over each shard's layers) run
 *     in a worker thread on a one-thread cpu backend — alone, and with a second worker running it at the same time
 *     (two devices computing at once share the cores' memory bandwidth; the simulator uses the second figure while
 *     another device computes) — plus the optimizer step: the host AdamW kernel's measured seconds per element times
 *     the elements each training task steps (all of a clipped model's in shard 0's task).
 * The scheduler inside the simulator is told the plans' own pilot times, as the executor's scheduler is.
 */
import { Worker } from 'node:worker_threads';
import type { PartitionPlan } from '../src/hydra/api.js';
import { createCpuBackend } from '../src/backend/cpu.js';
import { simulate } from '../src/sim/engine.js';
import { workloadFromPlans, type PlannedModel } from '../src/sim/from-plans.js';
import type { PolicyName, TaskKind } from '../src/hydra/scheduler/types.js';
import type { SimResult } from '../src/sim/types.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import type { CalibrateJob, CalibrateResult } from './grid-calibrate-worker.js';
import { median } from './common.js';

/** Bytes per second of a host→device plus device→host copy pair on a one-thread cpu device. */
export async function measureCopyBandwidth(bytes = 32 << 20, runs = 7): Promise<number> {
  const be = createCpuBackend({ threads: 1 });
  const host = new Float32Array(bytes / 4).fill(1);
  const rates: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const buf = be.alloc(host.length);
      await be.upload(buf, host);
      await be.download(buf, host);
      be.free(buf);
      rates.push((2 * bytes) / ((performance.now() - t0) / 1000));
    }
  } finally {
    be.dispose();
  }
  return median(rates);
}

function calibrateIn(job: CalibrateJob): Promise<CalibrateResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./grid-calibrate-worker.js', import.meta.url), { workerData: job });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`calibration worker exited (code ${code}) before reporting`)));
  });
}

/** Per layer: forward and backward seconds; and seconds per stepped element. */
export interface Calibration {
  forward: number[];
  backward: number[];
  stepSecondsPerElement: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const calibration = (rs: CalibrateResult[]): Calibration => ({
  forward: rs[0].profiles.map((_, i) => mean(rs.map((r) => r.profiles[i].forwardSeconds))),
  backward: rs[0].profiles.map((_, i) => mean(rs.map((r) => r.profiles[i].backwardSeconds))),
  stepSecondsPerElement: mean(rs.map((r) => r.stepSecondsPerElement)),
});

/** The model's per-layer costs at batch B, alone (`solo`) and while a second device runs the same (`shared`). */
export async function measureTaskSeconds(config: Gpt2Config, B: number, T: number, stepElements: number, repeats = 3): Promise<{ solo: Calibration; shared: Calibration }> {
  const job: CalibrateJob = { config, B, T, repeats, stepElements };
  const solo = calibration([await calibrateIn(job)]);
  const shared = calibration(await Promise.all([calibrateIn(job), calibrateIn(job)]));
  return { solo, shared };
}

/** Seconds of each task kind of each shard of `plan`: its layers' measured seconds, plus its optimizer step. */
export function shardSeconds(plan: PartitionPlan, c: Calibration, stepElements: number[]): Partial<Record<TaskKind, number>>[] {
  const sum = (xs: number[], from: number, to: number) => xs.slice(from, to).reduce((a, b) => a + b, 0);
  const last = plan.shards.length - 1;
  return plan.shards.map((s, k) => {
    const fwd = sum(c.forward, s.from, s.to), bwd = sum(c.backward, s.from, s.to);
    const train = fwd + bwd + stepElements[k] * c.stepSecondsPerElement;
    return k === last ? { FL: train, E: fwd } : { F: fwd, B: train, E: fwd };
  });
}

export interface CalibratedModel extends PlannedModel {
  /** Per shard, per task kind: measured seconds alone and while another device computes. */
  seconds: Partial<Record<TaskKind, number>>[];
  sharedSeconds: Partial<Record<TaskKind, number>>[];
}

/** Simulate the grid under a policy on `devices` cpu devices with the measured costs. */
export function predict(models: CalibratedModel[], devices: number, budget: number, bandwidth: number, policy: PolicyName): SimResult {
  const w = workloadFromPlans('grid', models, devices, budget, bandwidth);
  w.models.forEach((m, i) => m.shards.forEach((s, k) => Object.assign(s, { seconds: models[i].seconds[k], sharedSeconds: models[i].sharedSeconds[k] })));
  return simulate(w, { policy });
}
