import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../src/backend/js.js';
import { BlockDataset } from '../../src/data/text-dataset.js';
import { Loader } from '../../src/data/loader.js';
import { buildGpt2, gpt2Arch } from '../../src/nn/gpt2.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { initModel } from '../../src/nn/init.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { checkpointTrainer, resumeTrainer } from '../../src/io/model-checkpoint.js';
import { CheckpointError } from '../../src/io/checkpoint-file.js';

const config: Gpt2Config = { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 41, dropout: 0.1, tie: true };
const recipe: TrainRecipe = { optimizer: { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 }, schedule: { warmupSteps: 2, decay: 'cosine', minRatio: 0.1 }, clipNorm: 0.5, totalSteps: 7, seed: 3 };
const tokens = Uint16Array.from({ length: 8 * 13 + 1 }, (_, i) => (i * 17 + (i >> 3)) % 41);
const loader = new Loader(new BlockDataset(tokens, 8), { batchSize: 3, seed: 5, shuffle: true });

async function stepOnce(t: LocalTrainer): Promise<number> {
  const p = loader.position(t.step);
  const b = loader.batch(p.epoch, p.step);
  return (await t.trainStep({ tokens: b.tokens, targets: b.targets, B: b.B, T: b.T })).loss;
}

test('a checkpoint resumed after k steps continues exactly as the uninterrupted run (bitwise, k + m steps)', async () => {
  const k = 3, m = 4;
  const model = buildGpt2(config);
  const straight = await LocalTrainer.create(new JsBackend(), model, initModel(model, recipe.seed), recipe);
  const lossesStraight: number[] = [];
  for (let s = 0; s < k + m; s++) lossesStraight.push(await stepOnce(straight));

  const first = await LocalTrainer.create(new JsBackend(), model, initModel(model, recipe.seed), recipe);
  const losses: number[] = [];
  for (let s = 0; s < k; s++) losses.push(await stepOnce(first));
  const path = join(mkdtempSync(join(tmpdir(), 'hydra-ck-')), 'model.ckpt');
  await checkpointTrainer(path, first, gpt2Arch(config), loader.position(first.step));
  first.dispose();

  const { trainer, meta } = await resumeTrainer(path, new JsBackend());
  assert.equal(meta.step, k);
  assert.deepEqual(meta.data, loader.position(k));
  for (let s = 0; s < m; s++) losses.push(await stepOnce(trainer));
  assert.deepEqual(losses, lossesStraight);
  const a = await straight.exportParams(), b = await trainer.exportParams();
  for (const [name, t] of a) assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b.get(name)!.data.buffer, b.get(name)!.data.byteOffset, b.get(name)!.data.byteLength)), name);

  // a damaged checkpoint is reported, not loaded
  const bytes = readFileSync(path);
  bytes[bytes.length - 5] ^= 0x40;
  writeFileSync(path, bytes);
  await assert.rejects(() => resumeTrainer(path, new JsBackend()), (e: unknown) => e instanceof CheckpointError && e.problem === 'checksum');
});

test('resumeTrainer never imports the module a checkpoint names: an unregistered family is refused, the module unloaded', async () => {
  const model = buildGpt2(config);
  const t = await LocalTrainer.create(new JsBackend(), model, initModel(model, recipe.seed), recipe);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-ck-'));
  const marker = join(dir, 'ran');
  // A module that would leave a file behind if it were ever imported.
  const evil = join(dir, 'evil.mjs');
  writeFileSync(evil, `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'imported');\n`);
  const path = join(dir, 'model.ckpt');
  await checkpointTrainer(path, t, { family: 'not-registered', config: {}, module: `file://${evil}` }, { epoch: 0, step: 0 });
  t.dispose();
  await assert.rejects(resumeTrainer(path, new JsBackend()), /model family 'not-registered' is not registered in this process \(the checkpoint says file:\/\/.*evil\.mjs registers it\)/);
  const { existsSync } = await import('node:fs');
  assert.ok(!existsSync(marker), 'the module named by the checkpoint was imported');
});
