/**
 * The gold test against PyTorch, one suite for every family (fixtures made by scripts/gold/, whose recipe is
 * gold_fixture.py's): logits, loss and every parameter gradient at the fixture's weights, then 10 clipped AdamW
 * steps' losses and final parameters, on every available backend, through the fused LM head + loss run in chunks of 8
 * rows (the fixtures' batch has 39 rows: 4 full chunks and a partial one). Each family gives its loader, its builder,
 * its fixture folders and its tolerances.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../../src/backend/backend.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { HostTensor } from '../../src/nn/host-tensor.js';
import { withHeadChunk } from '../../src/nn/lm-head.js';
import type { Model } from '../../src/nn/model.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { goldBackends } from './gold-backends.js';
import { relError } from '../backend/helpers.js';

/** Largest relative errors accepted against PyTorch's float64 answers. */
export interface GoldTolerances {
  logits: number;
  loss: number;
  grad: number;
  stepLoss: number;
  final: number;
}

export interface GoldFamily<C extends { vocab_size: number }> {
  /** Test-name prefix, e.g. 'gold' or 'gold llama'. */
  name: string;
  /** Fixture folders by variant name ('' when there is one). */
  fixtures: Record<string, string>;
  load(dir: string): Promise<{ config: C; tensors: Map<string, HostTensor> }>;
  build(config: C): Model;
  tol: GoldTolerances;
  /** Assertions on the loaded config of a variant (e.g. that it ties its head, uses grouped-query attention). */
  checkConfig(config: C, variant: string): void;
}

interface Expected {
  loss: number;
  train: { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_norm: number; steps: number; losses: number[] };
}

async function fixture<C extends { vocab_size: number }>(family: GoldFamily<C>, dir: string) {
  const { config, tensors } = await family.load(dir);
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

type Fixture<C extends { vocab_size: number }> = Awaited<ReturnType<typeof fixture<C>>>;

const relLoss = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

export function goldSuite<C extends { vocab_size: number }>(family: GoldFamily<C>): void {
  for (const backend of goldBackends()) {
    for (const [variant, dir] of Object.entries(family.fixtures)) {
      const label = `${family.name}${variant ? ` ${variant}` : ''} (${backend.kind})`;
      const trainerFor = (be: Backend, f: Fixture<C>) => LocalTrainer.create(be, withHeadChunk(family.build(f.config), 8 * f.config.vocab_size * 4), f.tensors, f.recipe);

      test(`${label}: logits, loss and every gradient match PyTorch`, async (t) => {
        const be = await backend.create();
        if (!be) return t.skip(backend.skipReason);
        const f = await fixture(family, dir);
        family.checkConfig(f.config, variant);
        const trainer = await trainerFor(be, f);
        const logits = await trainer.logits(f.b);
        const eLogits = relError(logits, f.ref.get('logits')!.data);
        assert.ok(eLogits <= family.tol.logits, `logits relative error ${eLogits}`);
        const { loss, grads } = await trainer.gradients(f.b);
        const eLoss = relLoss(loss, f.expected.loss);
        assert.ok(eLoss <= family.tol.loss, `loss ${loss} vs ${f.expected.loss}`);
        assert.equal(grads.size, [...f.ref.keys()].filter((k) => k.startsWith('grad.')).length, 'one gradient per parameter');
        let worst = 0;
        for (const [name, g] of grads) {
          const want = f.ref.get(`grad.${name}`);
          assert.ok(want, `fixture has no gradient for ${name}`);
          const e = relError(g, want.data);
          worst = Math.max(worst, e);
          assert.ok(e <= family.tol.grad, `gradient of ${name}: relative error ${e}`);
        }
        t.diagnostic(`max relative error: logits ${eLogits.toExponential(2)}, loss ${eLoss.toExponential(2)}, gradients ${worst.toExponential(2)}`);
        trainer.dispose();
        be.dispose();
      });

      test(`${label}: 10 clipped AdamW steps match PyTorch's losses and final weights`, async (t) => {
        const be = await backend.create();
        if (!be) return t.skip(backend.skipReason);
        const f = await fixture(family, dir);
        const trainer = await trainerFor(be, f);
        const losses: number[] = [];
        for (let s = 0; s < f.expected.train.steps; s++) losses.push((await trainer.trainStep(f.b, false)).loss);
        assert.equal(losses.length, f.expected.train.losses.length);
        let worstLoss = 0;
        for (let s = 0; s < losses.length; s++) {
          const e = relLoss(losses[s], f.expected.train.losses[s]);
          worstLoss = Math.max(worstLoss, e);
          assert.ok(e <= family.tol.stepLoss, `step ${s}: loss ${losses[s]} vs ${f.expected.train.losses[s]} (relative error ${e})`);
        }
        assert.ok(losses[losses.length - 1] < losses[0], 'the fixture trains: loss decreases');
        const params = await trainer.exportParams();
        assert.equal(params.size, [...f.ref.keys()].filter((k) => k.startsWith('final.')).length, 'one final value per parameter');
        assert.equal(params.size, trainer.model.params.length);
        let worstParam = 0;
        for (const [name, p] of params) {
          const want = f.ref.get(`final.${name}`);
          assert.ok(want, `fixture has no final value for ${name}`);
          const e = relError(p.data, want.data);
          worstParam = Math.max(worstParam, e);
          assert.ok(e <= family.tol.final, `final ${name}: relative error ${e}`);
        }
        t.diagnostic(`max relative error: losses over ${losses.length} steps ${worstLoss.toExponential(2)}, final parameters ${worstParam.toExponential(2)}`);
        trainer.dispose();
        be.dispose();
      });
    }
  }
}
