/**
 * bench:grid's calibration worker (grid-sim.ts measureTaskSeconds): one device's worth of work on a one-thread cpu
 * backend in its own thread, as a device worker runs it — the pilot pass over the model's layers (the fastest of a
 * few repetitions), then the host-tier AdamW step over `stepElements` parameters (the kernel the executor's tasks
 * step with on cpu), timed per element.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCpuBackend } from '../src/backend/cpu.js';
import { pilotLayers, type LayerProfile } from '../src/hydra/plan/pilot.js';
import { buildGpt2 } from '../src/nn/gpt2.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';

export interface CalibrateJob {
  config: Gpt2Config;
  B: number;
  T: number;
  repeats: number;
  stepElements: number;
}

export interface CalibrateResult {
  profiles: LayerProfile[];
  stepSecondsPerElement: number;
}

const job = workerData as CalibrateJob;
const be = createCpuBackend({ threads: 1 });
try {
  const model = buildGpt2(job.config);
  const tokens = Int32Array.from({ length: job.B * job.T }, (_, i) => (i * 7919) % job.config.vocab_size);
  const profiles = await pilotLayers(be, model, tokens, job.B, job.T, 0, { repeats: job.repeats });
  const n = job.stepElements;
  const [p, g, m, v] = [0.01, 1e-3, 0, 0].map((x) => new Float32Array(n).fill(x));
  let best = Infinity;
  for (let r = 0; r < job.repeats; r++) {
    const t0 = performance.now();
    be.adamwHost!(p, g, m, v, n, { lr: ADAMW_DEFAULTS.lr, beta1: ADAMW_DEFAULTS.beta1, beta2: ADAMW_DEFAULTS.beta2, eps: ADAMW_DEFAULTS.eps, weightDecay: ADAMW_DEFAULTS.weightDecay, t: r + 1, gradScale: 1 });
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  parentPort!.postMessage({ profiles, stepSecondsPerElement: best / n } satisfies CalibrateResult);
} finally {
  be.dispose();
}
