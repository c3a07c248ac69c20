/**
 * Gold test for the Hugging Face layout: a tiny randomly initialised GPT-2 written by PyTorch as Hugging Face saves it
 * (`transformer.` prefix, attention-mask buffers, tied head), in F32 and F16; hydra-dl loads it and matches PyTorch's
 * loss on a fixed batch within 1e-5 relative error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../src/backend/js.js';
import { loadHfGpt2 } from '../../src/io/hf-gpt2.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { evaluate } from '../../src/nn/evaluate.js';

const DIR = join('test', 'fixtures', 'gold', 'hf-tiny');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { B: number; T: number; tokens: number[]; targets: number[]; loss: number; loss_f16: number };
const batch = { B: expected.B, T: expected.T, tokens: Int32Array.from(expected.tokens), targets: Int32Array.from(expected.targets) };

async function lossOf(dir: string): Promise<number> {
  const { config, tensors } = await loadHfGpt2(dir, { dropout: 0 });
  const r = await evaluate(new JsBackend(), buildGpt2(config), tensors, [batch]);
  return r.loss;
}

test('HF layout gold: the F32 checkpoint written by PyTorch gives PyTorch\'s loss (≤ 1e-5 relative)', async () => {
  const loss = await lossOf(DIR);
  const e = Math.abs(loss - expected.loss) / expected.loss;
  assert.ok(e <= 1e-5, `loss ${loss} vs PyTorch ${expected.loss} (relative error ${e})`);
});

test('HF layout gold: the F16 checkpoint is widened exactly and gives PyTorch\'s loss (≤ 1e-5 relative)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-hf16-'));
  copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(DIR, 'model-f16.safetensors'), join(dir, 'model.safetensors'));
  const loss = await lossOf(dir);
  const e = Math.abs(loss - expected.loss_f16) / expected.loss_f16;
  assert.ok(e <= 1e-5, `loss ${loss} vs PyTorch ${expected.loss_f16} (relative error ${e})`);
});
