/**
 * Gold test for the Hugging Face layout: a tiny randomly initialised GPT-2 written by PyTorch as Hugging Face saves it
 * (`transformer.` prefix, attention-mask buffers, tied head), in F32 and F16; hydra-dl loads it and matches PyTorch's
 * logits (stored in expected.safetensors as `logits` / `logits_f16`) and loss on a fixed batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../src/backend/js.js';
import { loadHfGpt2 } from '../../src/io/hf-gpt2.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { evaluate } from '../../src/nn/evaluate.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import { SGD_DEFAULTS } from '../../src/optim/optimizer.js';
import { CONSTANT_LR } from '../../src/optim/schedule.js';
import { relError } from '../backend/helpers.js';

const DIR = join('test', 'fixtures', 'gold', 'hf-tiny');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { B: number; T: number; tokens: number[]; targets: number[]; loss: number; loss_f16: number };
const batch = { B: expected.B, T: expected.T, tokens: Int32Array.from(expected.tokens), targets: Int32Array.from(expected.targets) };

/**
 * Relative-error tolerances, a few times the largest errors measured on js against PyTorch's float64 reference over
 * both files: logits 1.7e-7, loss 3.0e-9.
 */
const TOL = { logits: 5e-7, loss: 1e-8 };

async function run(dir: string): Promise<{ loss: number; logits: Float32Array }> {
  const { config, tensors } = await loadHfGpt2(dir, { dropout: 0 });
  const be = new JsBackend();
  const model = buildGpt2(config);
  const { loss } = await evaluate(be, model, tensors, [batch]);
  const trainer = await LocalTrainer.create(be, model, tensors, { optimizer: SGD_DEFAULTS, schedule: CONSTANT_LR, clipNorm: 0, totalSteps: 1, seed: 0 });
  const logits = await trainer.logits(batch);
  trainer.dispose();
  return { loss, logits };
}

async function check(t: { diagnostic(m: string): void }, dir: string, wantLoss: number, logitsKey: 'logits' | 'logits_f16'): Promise<void> {
  const want = (await readSafetensors(join(DIR, 'expected.safetensors'))).tensors.get(logitsKey);
  assert.ok(want, `expected.safetensors has no '${logitsKey}'`);
  const { loss, logits } = await run(dir);
  assert.equal(logits.length, want.data.length, `${logitsKey}: ${logits.length} values vs ${want.data.length} stored`);
  const eLogits = relError(logits, want.data);
  const eLoss = Math.abs(loss - wantLoss) / wantLoss;
  t.diagnostic(`relative error: ${logitsKey} ${eLogits.toExponential(2)}, loss ${eLoss.toExponential(2)}`);
  assert.ok(eLogits <= TOL.logits, `${logitsKey}: relative error ${eLogits} > ${TOL.logits}`);
  assert.ok(eLoss <= TOL.loss, `loss ${loss} vs PyTorch ${wantLoss} (relative error ${eLoss} > ${TOL.loss})`);
}

test('HF layout gold: the F32 checkpoint written by PyTorch gives PyTorch\'s logits and loss', async (t) => {
  await check(t, DIR, expected.loss, 'logits');
});

test('HF layout gold: the F16 checkpoint is widened exactly and gives PyTorch\'s logits and loss', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-hf16-'));
  copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(DIR, 'model-f16.safetensors'), join(dir, 'model.safetensors'));
  await check(t, dir, expected.loss_f16, 'logits_f16');
});
