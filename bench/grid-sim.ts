/**
 * bench:grid's simulator side: the same workload simulated, to put a predicted makespan beside each measured one.
 *
 * Calibration (measured on this machine before the timed runs, never from them):
 *   - copy bandwidth: a cpu device copying a buffer in and out the way a task does (a fresh allocation each time,
 *     so first-touch page faults are in it), median of several;
 *   - task seconds: the pilot's per-shard forward/backward seconds, times one factor: what a short calibration job
 *     (the warm-up run) measured per task, copies taken out, over what the pilot predicted for the same tasks. The
 *     pilot times layers alone; a task also pays the loss, the optimizer step and the executor's own overhead.
 */
import type { HydraEvent, PartitionPlan } from '../src/hydra/api.js';
import { createCpuBackend } from '../src/backend/cpu.js';
import { simulate } from '../src/sim/engine.js';
import { workloadFromPlans, type PlannedModel } from '../src/sim/from-plans.js';
import type { PolicyName } from '../src/hydra/scheduler/types.js';
import type { SimResult } from '../src/sim/types.js';
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

/** Pilot seconds of one task of a plan's shard (the scheduler's cost model). */
function pilotSeconds(plan: PartitionPlan, kind: string, shard: number): number {
  const s = plan.shards[shard].seconds;
  return kind === 'F' || kind === 'E' ? s.forward : s.forward + s.backward;
}

/**
 * Measured task seconds (copies at `bandwidth` taken out) over pilot seconds, over the task-end events of a job whose
 * models had these plans.
 */
export function calibrationFactor(events: HydraEvent[], plans: Map<string, PartitionPlan>, bandwidth: number): number {
  let measured = 0, pilot = 0;
  for (const e of events) {
    if (e.type !== 'task-end') continue;
    const plan = plans.get(e.model);
    if (!plan) continue;
    measured += Math.max(0, e.computeSeconds - (e.bytesIn + e.bytesOut) / bandwidth);
    pilot += pilotSeconds(plan, e.kind, e.shard);
  }
  if (!(pilot > 0)) throw new Error('calibration: the calibration job reported no tasks');
  return measured / pilot;
}

/** Simulate the grid under a policy on `devices` cpu devices with the calibrated costs. */
export function predict(models: PlannedModel[], devices: number, budget: number, bandwidth: number, factor: number, policy: PolicyName): SimResult {
  const scaled = models.map((m) => ({
    ...m,
    plan: { ...m.plan, shards: m.plan.shards.map((s) => ({ ...s, seconds: { forward: s.seconds.forward * factor, backward: s.seconds.backward * factor } })) },
  }));
  return simulate(workloadFromPlans('grid', scaled, devices, budget, bandwidth), { policy });
}
