import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cartesian, expandGrid, formatHValue, gridSize, variantName } from '../../src/config/grid.js';
import type { TrainConfig } from '../../src/config/schema.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';

type GridInput = Pick<TrainConfig, 'name' | 'base' | 'grid'>;
const base: TrainConfig['base'] = { preset: 'gpt2-tiny', n_ctx: 16 };

test('cartesian product: every combination once, first axis outermost', () => {
  assert.deepEqual(cartesian([2, 3]), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
  assert.deepEqual(cartesian([]), [[]]);
  assert.equal(cartesian([3, 2, 4]).length, 24);
});

test('expandGrid builds lr × batch_size models named after the varying keys', () => {
  const cfg: GridInput = { name: 'job', base, grid: [{ key: 'lr', values: [3e-4, 1e-4, 5e-5] }, { key: 'batch_size', values: [8, 4] }] };
  const vs = expandGrid(cfg);
  assert.equal(vs.length, 6);
  assert.equal(gridSize(cfg.grid), 6);
  assert.deepEqual(vs.map((v) => v.name), ['lr=3e-4,bs=8', 'lr=3e-4,bs=4', 'lr=1e-4,bs=8', 'lr=1e-4,bs=4', 'lr=5e-5,bs=8', 'lr=5e-5,bs=4']);
  assert.deepEqual(vs[3].hparams, { lr: 1e-4, batch_size: 4 });
  assert.equal(vs[3].spec.optimizer.lr, 1e-4);
  assert.equal(vs[3].spec.batchSize, 4);
  assert.equal(vs[3].spec.blockSize, 16);
  assert.equal((vs[3].spec.model.config as Gpt2Config).n_ctx, 16);
});

test('keys with one value stay in hparams but not in the name; a single combination takes the job name', () => {
  const vs = expandGrid({ name: 'job', base, grid: [{ key: 'lr', values: [1e-3, 1e-4] }, { key: 'batch_size', values: [4] }, { key: 'seed', values: [7] }] });
  assert.deepEqual(vs.map((v) => v.name), ['lr=1e-3', 'lr=1e-4']);
  assert.deepEqual(vs[0].hparams, { lr: 1e-3, batch_size: 4, seed: 7 });
  assert.equal(vs[0].spec.seed, 7);
  const one = expandGrid({ name: 'solo', base: { ...base, batch_size: 2 }, grid: [] });
  assert.equal(one.length, 1);
  assert.equal(one[0].name, 'solo');
  assert.deepEqual(one[0].hparams, {});
});

test('grid over model, optimizer and schedule keys reaches the right config fields', () => {
  const vs = expandGrid({
    name: 'job',
    base: { ...base, batch_size: 2 },
    grid: [
      { key: 'dropout', values: [0, 0.2] },
      { key: 'n_layer', values: [1, 3] },
      { key: 'weight_decay', values: [0, 0.1] },
      { key: 'warmup_steps', values: [0, 5] },
      { key: 'clip_norm', values: [0, 1] },
    ],
  });
  assert.equal(vs.length, 32);
  const last = vs[31];
  assert.equal(last.name, 'dropout=0.2,L=3,wd=0.1,warmup=5,clip=1');
  assert.equal((last.spec.model.config as Gpt2Config).dropout, 0.2);
  assert.equal((last.spec.model.config as Gpt2Config).n_layer, 3);
  assert.equal(last.spec.optimizer.weightDecay, 0.1);
  assert.deepEqual(last.spec.schedule, { warmupSteps: 5, decay: 'constant', minRatio: 0 });
  assert.equal(last.spec.clipNorm, 1);
  assert.equal(vs[0].spec.schedule?.warmupSteps, 0);
  assert.equal(new Set(vs.map((v) => v.name)).size, 32);
});

test('defaults: AdamW defaults, no schedule, clipping off, seed 0, block size = n_ctx', () => {
  const [v] = expandGrid({ name: 'j', base: { ...base, batch_size: 1 }, grid: [] });
  assert.deepEqual(v.spec.optimizer, { kind: 'adamw', lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  assert.equal(v.spec.schedule, undefined);
  assert.equal(v.spec.clipNorm, 0);
  assert.equal(v.spec.seed, 0);
  assert.equal(v.spec.blockSize, 16);
  assert.deepEqual(v.spec.model, { family: 'gpt2', config: { n_layer: 2, n_head: 2, n_embd: 64, n_ctx: 16, vocab_size: 50257, dropout: 0.1, tie: true } });
});

test('formatHValue writes numbers as people do', () => {
  assert.equal(formatHValue(0.0003), '3e-4');
  assert.equal(formatHValue(5e-5), '5e-5');
  assert.equal(formatHValue(1.5e-4), '1.5e-4');
  assert.equal(formatHValue(8), '8');
  assert.equal(formatHValue(0.01), '0.01');
  assert.equal(formatHValue(0.1), '0.1');
  assert.equal(formatHValue(100000), '1e5');
  assert.equal(formatHValue('adamw'), 'adamw');
  assert.equal(formatHValue(true), 'true');
  assert.equal(variantName([{ key: 'optimizer', values: ['adamw', 'sgd'] }], [1], 'x'), 'opt=sgd');
});
