/** The disk tier tests' job: two tiny models whose state a small host cap forces partly to disk. */
import { gpt2Arch } from '../../src/nn/gpt2.js';
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
