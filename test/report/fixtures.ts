/** A fake JobResult with one finished, one evaluated-best, one diverged and one failed model. */
import type { JobResult, ModelResult, PartitionPlan } from '../../src/hydra/api.js';

export const PLAN: PartitionPlan = {
  key: 'abc123',
  arch: 'gpt2(test)',
  backend: 'js',
  B: 2,
  T: 8,
  budget: 64 * 1024 * 1024,
  reserve: 1024,
  shards: [
    { from: 0, to: 2, layerNames: ['embed', 'h.0'], paramBytes: 1000, inputBytes: 64, peakBytes: { forward: 5000, train: 9000 }, seconds: { forward: 0.1, backward: 0.2 } },
    { from: 2, to: 4, layerNames: ['ln_f', 'lm_head'], paramBytes: 800, inputBytes: 512, peakBytes: { forward: 7000, train: 12000 }, seconds: { forward: 0.3, backward: 0.4 } },
  ],
};

function model(name: string, hparams: ModelResult['hparams'], over: Partial<ModelResult>): ModelResult {
  return {
    name,
    hparams,
    status: 'done',
    losses: [10, 9, 8],
    evals: [],
    steps: 3,
    wallSeconds: 12,
    deviceSeconds: 5.5,
    plan: PLAN,
    weights: new Map([['wte.weight', { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]),
    ...over,
  };
}

export function fakeJob(): JobResult {
  return {
    models: [
      model('lr=1e-3,bs=2', { lr: 1e-3, batch_size: 2 }, { losses: [10, 9, 7.5], evals: [{ epoch: 0, loss: 7.9, perplexity: Math.exp(7.9) }] }),
      model('lr=1e-2,bs=2', { lr: 1e-2, batch_size: 2 }, { status: 'diverged', reason: 'loss became NaN at step 1', losses: [10, NaN], steps: 1 }),
      model('lr=1e-4,bs=2', { lr: 1e-4, batch_size: 2 }, { losses: [10, 9.5, 9.2], evals: [{ epoch: 0, loss: 9.0, perplexity: Math.exp(9) }] }),
      model('lr=3e-3,bs=2', { lr: 3e-3, batch_size: 2 }, { status: 'failed', reason: 'task FL1 of step 0 failed on device 1: boom, "quoted", comma', losses: [], steps: 0 }),
      model('lr=5e-4,bs=2', { lr: 5e-4, batch_size: 2 }, { losses: [10, 9, 6.5], evals: [{ epoch: 0, loss: 7.1, perplexity: Math.exp(7.1) }] }),
    ],
    makespanSeconds: 40,
    devices: [
      { id: 0, busySeconds: 30, utilisation: 0.75, highWater: 20 * 1024 * 1024, budget: 64 * 1024 * 1024 },
      { id: 1, busySeconds: 36, utilisation: 0.9, highWater: 30 * 1024 * 1024, outsideRegion: 3, budget: 64 * 1024 * 1024 },
    ],
    policy: 'sharded-lrtf',
    bytesMoved: 3 * 1024 ** 3,
    prefetch: { copiedBytes: 1024 ** 3, usedBytes: 0.75 * 1024 ** 3, droppedBytes: 0.25 * 1024 ** 3, failures: 2 },
    overlapSeconds: 4,
  };
}
