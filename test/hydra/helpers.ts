/** Shared fixtures for Hydra tests: synthetic batch sources and task builders. */
import type { BatchSource, TrainTask } from '../../src/hydra/api.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import type { Backend } from '../../src/backend/backend.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { buildArch, loadFamily, resolveArch } from '../../src/nn/families.js';
import { initModel } from '../../src/nn/init.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';

/** Deterministic pseudo-text: batch (epoch, step) is a pure function of its arguments. */
export function syntheticSource(vocab: number, B: number, T: number, stepsPerEpoch: number, salt = 0): BatchSource {
  return {
    B,
    T,
    stepsPerEpoch,
    batch(epoch, step) {
      const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
      for (let i = 0; i < B * T; i++) {
        tokens[i] = (i * 7 + step * 13 + epoch * 29 + salt * 31) % vocab;
        targets[i] = (tokens[i] * 3 + 1) % vocab;
      }
      return { tokens, targets };
    },
  };
}

export const TINY: Gpt2Config = { n_layer: 3, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 37, dropout: 0.2, tie: true };

export function tinyTask(name: string, opts: Partial<TrainTask> = {}): TrainTask {
  return {
    name,
    model: gpt2Arch(TINY),
    optimizer: { ...ADAMW_DEFAULTS, lr: 5e-3 },
    schedule: { warmupSteps: 1, decay: 'linear', minRatio: 0.1 },
    clipNorm: 0.1,
    train: syntheticSource(37, 2, 8, 3),
    steps: 3,
    seed: 11,
    ...opts,
  };
}

/** The reference: the task's model trained alone, unsharded, on one backend with LocalTrainer. */
export async function trainAlone(task: TrainTask, be: Backend) {
  await loadFamily(task.model);
  const model = buildArch(resolveArch(task.model));
  const t = await LocalTrainer.create(be, model, initModel(model, task.seed), {
    optimizer: task.optimizer, schedule: task.schedule!, clipNorm: task.clipNorm!, totalSteps: task.steps!, seed: task.seed,
  });
  const losses: number[] = [];
  for (let s = 0; s < task.steps!; s++) {
    const spe = task.train.stepsPerEpoch;
    losses.push((await t.trainStep({ ...task.train.batch(Math.floor(s / spe), s % spe), B: task.train.B, T: task.train.T })).loss);
  }
  const params = await t.exportParams();
  t.dispose();
  return { losses, params };
}

/** Bitwise equality of two float arrays (NaNs and signed zeros included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
