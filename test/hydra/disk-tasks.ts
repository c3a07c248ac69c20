/** The disk tier tests' job: two tiny models whose state a small host cap forces partly to disk. */
import { createBackend } from '../../src/backend/index.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import type { TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { planModel } from '../../src/hydra/job/job-plan.js';
import { checkTasks } from '../../src/hydra/job/train-setup.js';
import { parseDevices } from '../../src/hydra/run/device-spec.js';
import { placeJob } from '../../src/hydra/tier/placement.js';
import { cpuSkipReason } from '../backend/helpers.js';
import { TINY, tinyTask } from './helpers.js';

export const diskTasks = [
  // Six shards (one block each at this budget); AdamW with global-norm clipping.
  tinyTask('focus', { steps: 4, model: gpt2Arch({ ...TINY, n_layer: 6 }) }),
  // SGD with momentum, no clipping: each shard is stepped as soon as its gradients are final.
  tinyTask('other', { seed: 1, steps: 5, clipNorm: 0, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 } }),
];
/** Bytes: below what the two models need in RAM (≈ 390 KB), above the least they can run with. */
export const DISK_HOST_CAP = 250_000;
export const DISK_DEVICE_BUDGET = 90_000;

/** Why the cpu backend cannot run here (an explicit skip), or null when it can; any other failure throws. */
export async function cpuSkip(): Promise<string | null> {
  try {
    (await createBackend('cpu', { threads: 1 })).dispose();
    return null;
  } catch (e) {
    const reason = await cpuSkipReason(e);
    if (reason === null) throw e;
    return reason;
  }
}

/** The least RAM a job can run with (every movable byte on disk): planned and placed as train() does it. */
export async function jobHostFloor(tasks: TrainTask[], options: TrainOptions): Promise<number> {
  const dev = parseDevices(options.devices);
  const models = await checkTasks(tasks);
  const budget = Number(options.deviceMemory);
  const rts = [];
  for (const [i, t] of tasks.entries()) rts.push({ name: t.name, rt: (await planModel(i, t, t.name, models[i], { options, emit: () => undefined, now: () => 0, budget, dev })).rt });
  return placeJob(rts, 0, dev.count).hostFloor;
}
