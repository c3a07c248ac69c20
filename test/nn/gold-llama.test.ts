/**
 * Llama gold test against PyTorch (fixtures made by scripts/gold/make_llama_tiny.py, committed): a tiny Llama with
 * grouped-query attention (4 query heads over 2 kv heads), tied and untied, loaded from Hugging Face's
 * LlamaForCausalLM layout — logits, loss, every parameter gradient, then 10 clipped AdamW steps' losses and final
 * parameters, on every available backend, with the GPT-2 gold test's tolerances, through the fused LM head + loss in
 * chunks of 8 rows (the batch's 39 rows: 4 full chunks and a partial one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfLlama } from '../../src/io/hf-llama.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { buildLlama } from '../../src/nn/llama.js';
import { withHeadChunk } from '../../src/nn/lm-head.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { goldBackends } from './gold-backends.js';
import { relError } from '../backend/helpers.js';

interface Expected {
  loss: number;
  train: { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_norm: number; steps: number; losses: number[] };
}

async function fixture(variant: 'tied' | 'untied') {
  const dir = join('test', 'fixtures', 'gold', 'llama-tiny', variant);
  const { config, tensors } = await loadHfLlama(dir);
  const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { B: number; T: number; tokens: number[]; targets: number[] };
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  const ref = (await readSafetensors(join(dir, 'expected.safetensors'))).tensors;
  const b = { B: batch.B, T: batch.T, tokens: Int32Array.from(batch.tokens), targets: Int32Array.from(batch.targets) };
  const recipe: TrainRecipe = {
    optimizer: { kind: 'adamw', lr: expected.train.lr, beta1: expected.train.betas[0], beta2: expected.train.betas[1], eps: expected.train.eps, weightDecay: expected.train.weight_decay },
    schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 },
    clipNorm: expected.train.clip_norm,
    totalSteps: expected.train.steps,
    seed: 0,
  };
  return { config, tensors, b, expected, ref, recipe };
}

for (const backend of goldBackends()) {
  for (const variant of ['tied', 'untied'] as const) {
    test(`gold llama ${variant} (${backend.kind}): logits, loss and every gradient match PyTorch`, async (t) => {
      const be = await backend.create();
      if (!be) return t.skip(backend.skipReason);
      const f = await fixture(variant);
      assert.equal(f.config.tie, variant === 'tied');
      assert.ok(f.config.n_kv_head < f.config.n_head, 'the fixture uses grouped-query attention');
      const trainer = await LocalTrainer.create(be, withHeadChunk(buildLlama(f.config), 8 * f.config.vocab_size * 4), f.tensors, f.recipe);
      const logits = await trainer.logits(f.b);
      const eLogits = relError(logits, f.ref.get('logits')!.data);
      assert.ok(eLogits <= 1e-5, `logits relative error ${eLogits}`);
      const { loss, grads } = await trainer.gradients(f.b);
      assert.ok(Math.abs(loss - f.expected.loss) / f.expected.loss <= 1e-5, `loss ${loss} vs ${f.expected.loss}`);
      assert.equal(grads.size, [...f.ref.keys()].filter((k) => k.startsWith('grad.')).length);
      let worst = 0;
      for (const [name, g] of grads) {
        const want = f.ref.get(`grad.${name}`);
        assert.ok(want, `fixture has no gradient for ${name}`);
        const e = relError(g, want.data);
        worst = Math.max(worst, e);
        assert.ok(e <= 1e-4, `gradient of ${name}: relative error ${e}`);
      }
      t.diagnostic(`max relative error: logits ${eLogits.toExponential(2)}, gradients ${worst.toExponential(2)}`);
      trainer.dispose();
      be.dispose();
    });

    test(`gold llama ${variant} (${backend.kind}): 10 clipped AdamW steps match PyTorch's losses and final weights`, async (t) => {
      const be = await backend.create();
      if (!be) return t.skip(backend.skipReason);
      const f = await fixture(variant);
      const trainer = await LocalTrainer.create(be, withHeadChunk(buildLlama(f.config), 8 * f.config.vocab_size * 4), f.tensors, f.recipe);
      const losses: number[] = [];
      for (let s = 0; s < f.expected.train.steps; s++) losses.push((await trainer.trainStep(f.b, false)).loss);
      let worstLoss = 0;
      for (let s = 0; s < losses.length; s++) {
        const e = Math.abs(losses[s] - f.expected.train.losses[s]) / Math.abs(f.expected.train.losses[s]);
        worstLoss = Math.max(worstLoss, e);
        assert.ok(e <= 1e-4, `step ${s}: loss ${losses[s]} vs ${f.expected.train.losses[s]} (relative error ${e})`);
      }
      assert.ok(losses[losses.length - 1] < losses[0], 'the fixture trains: loss decreases');
      let worstParam = 0, compared = 0;
      for (const [name, p] of await trainer.exportParams()) {
        const want = f.ref.get(`final.${name}`);
        assert.ok(want, `fixture has no final value for ${name}`);
        const e = relError(p.data, want.data);
        worstParam = Math.max(worstParam, e);
        compared++;
        assert.ok(e <= 1e-4, `final ${name}: relative error ${e}`);
      }
      assert.equal(compared, trainer.model.params.length);
      t.diagnostic(`max relative error: losses ${worstLoss.toExponential(2)}, final parameters ${worstParam.toExponential(2)}`);
      trainer.dispose();
      be.dispose();
    });
  }
}
