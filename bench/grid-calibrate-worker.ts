/**
 * bench:grid's calibration worker (grid-sim.ts measureTaskSeconds): one device's worth of work in its own thread, as
 * a device worker runs it — a fresh model's host-tier state (shared memory, parameters initialised as the job does,
 * gradients and optimizer state untouched until a task writes them) and the executor's own shard tasks
 * (runShardTask) on a one-thread cpu backend, step after step: F of each shard, FL of the last, B back down. No shard
 * cache: every task copies its parameters in. Each task's time comes back split by phase (task-timing.ts), the first
 * step apart from the later ones (its first writes to the host tier's fresh pages cost more).
 *
 * The device is warmed first by one untimed step of another model of the same shape: in a job a device's memory
 * (the cpu arena, native/arena.h) is touched once, by the first model it runs, and every later model's tasks reuse
 * it, while each model's host-tier state is fresh. Without the warm-up every model's first step was charged the
 * device's first touches too, and the prediction ran 7–15 % over the measured makespan.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCpuBackend } from '../src/backend/cpu.js';
import { buildGpt2 } from '../src/nn/gpt2.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import { initParamsInto } from '../src/nn/init.js';
import { buildRuntime, type ShardRange } from '../src/hydra/run/model-runtime.js';
import { runShardTask, type ShardOutcome } from '../src/hydra/run/shard-executor.js';
import type { TaskKind } from '../src/hydra/scheduler/types.js';
import { HostTier } from '../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../src/hydra/tier/host-state.js';
import type { TrainRecipe } from '../src/optim/recipe.js';

export interface CalibrateJob {
  config: Gpt2Config;
  shards: ShardRange[];
  recipe: TrainRecipe;
  B: number;
  T: number;
  /** The device budget the plan was cut for (the backend allocates under it, as a device does). */
  budget: number;
  /** Steps run after the first (at least 1). */
  laterSteps: number;
}

/** One task kind of one shard: what it spent, the first step and the mean of the later ones. */
export interface TaskSample {
  kind: TaskKind;
  shard: number;
  first: TaskCost;
  later: TaskCost;
}

export interface TaskCost {
  /** Seconds computing (forward, backward with its recompute, the optimizer step, allocation and bookkeeping). */
  compute: number;
  /** Seconds of the task's own copies, and the bytes they moved. */
  copySeconds: number;
  copyBytes: number;
}

export interface CalibrateResult {
  tasks: TaskSample[];
}

const job = workerData as CalibrateJob;
const be = createCpuBackend({ threads: 1, budget: job.budget });
try {
  const rt = buildRuntime(buildGpt2(job.config), job.shards, job.recipe, job.B, job.T);
  const last = rt.shards.length - 1;
  const order: { kind: TaskKind; shard: number }[] = [
    ...rt.shards.slice(0, last).map((_, k) => ({ kind: 'F' as const, shard: k })),
    { kind: 'FL', shard: last },
    ...rt.shards.slice(0, last).map((_, k) => ({ kind: 'B' as const, shard: last - 1 - k })),
  ];
  const freshState = async (name: string) => {
    const views = viewsOf(allocateHostState(rt, new HostTier(), name));
    await initParamsInto(rt.params.map((p) => p.spec), job.recipe.seed, (spec) => views.param(spec.name));
    return views;
  };
  const warm = await freshState('calibration warm-up');
  for (const t of order) await runShardTask(be, rt, warm, { ...t, step: 0 });
  const views = await freshState('calibration');
  const cost = (o: ShardOutcome): TaskCost => {
    const { copyIn, copyOut, ...rest } = o.phases;
    return { compute: Object.values(rest).reduce((a, b) => a + b, 0), copySeconds: copyIn + copyOut, copyBytes: o.bytesIn + o.bytesOut };
  };
  const runs: TaskCost[][] = order.map(() => []);
  const vocab = job.config.vocab_size;
  for (let step = 0; step <= job.laterSteps; step++) {
    for (let i = 0; i < job.B * job.T; i++) {
      views.tokens()[i] = (i * 7919 + step * 104729) % vocab;
      views.targets()[i] = (i * 15485863 + step) % vocab;
    }
    for (const [i, t] of order.entries()) runs[i].push(cost(await runShardTask(be, rt, views, { ...t, step })));
  }
  const mean = (xs: TaskCost[]): TaskCost => ({
    compute: xs.reduce((a, x) => a + x.compute, 0) / xs.length,
    copySeconds: xs.reduce((a, x) => a + x.copySeconds, 0) / xs.length,
    copyBytes: xs.reduce((a, x) => a + x.copyBytes, 0) / xs.length,
  });
  parentPort!.postMessage({ tasks: order.map((t, i) => ({ ...t, first: runs[i][0], later: mean(runs[i].slice(1)) })) } satisfies CalibrateResult);
} finally {
  be.dispose();
}
