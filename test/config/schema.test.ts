import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseTrainConfig, type TrainConfig } from '../../src/config/schema.js';
import { expandGrid } from '../../src/config/grid.js';
import { ConfigError } from '../../src/config/errors.js';
import { baseConfig, tempDir } from './fixtures.js';

const dir = tempDir();

function parse(over: Record<string, unknown> = {}, del: string[] = []): TrainConfig {
  const raw: Record<string, unknown> = { ...baseConfig(dir), ...over };
  for (const k of del) delete raw[k];
  return parseTrainConfig(raw, { baseDir: dir, cwd: dir });
}

/** Asserts a ConfigError at `path` whose message matches `re`. */
function rejects(fn: () => unknown, path: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.path, path, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('a valid config parses with defaults filled in', () => {
  const c = parse();
  assert.equal(c.name, 'unit');
  assert.equal(c.data.train, join(dir, 'data/train.txt'));
  assert.equal(c.data.format, 'auto');
  assert.deepEqual(c.length, { steps: 3 });
  assert.equal(c.deviceMemory, 64 * 1024 * 1024);
  assert.equal(c.policy, 'sharded-lrtf');
  assert.equal(c.activations, undefined, 'recompute unless asked');
  assert.equal(parse({ activations: 'offload' }).activations, 'offload');
  assert.equal(c.outDir, join(dir, 'runs/unit'));
  assert.deepEqual(c.base, { preset: 'gpt2-tiny', n_ctx: 16, dropout: 0, optimizer: 'adamw', weight_decay: 0.01 });
  assert.deepEqual(c.grid, [{ key: 'lr', values: [3e-4, 1e-4] }, { key: 'batch_size', values: [2, 1] }]);
});

test('grid value of the wrong type names the element path, the value and what is accepted', () => {
  rejects(() => parse({ grid: { lr: [3e-4, 1e-4, 'fast'] } }), 'grid.lr[2]', /^grid\.lr\[2\]: expected a positive number, got "fast"$/);
  rejects(() => parse({ grid: { batch_size: [2, 1.5] } }), 'grid.batch_size[1]', /expected a positive integer, got 1\.5/);
  rejects(() => parse({ grid: { lr: 3e-4 } }), 'grid.lr', /non-empty list of values/);
  rejects(() => parse({ grid: { lr: [] } }), 'grid.lr', /non-empty list/);
});

test('unknown fields are rejected with the accepted ones listed', () => {
  rejects(() => parse({ learning_rate: 1 }), 'learning_rate', /unknown field \(value 1\); accepted at the top level: name, model, .*grid/);
  rejects(() => parse({ optimizer: { kind: 'adamw', betaz: [0.9, 0.99] } }), 'optimizer.betaz', /unknown field.*accepted in optimizer: kind, lr, weight_decay, betas, eps, momentum, nesterov/);
  rejects(() => parse({ model: { preset: 'gpt2-tiny', layers: 3 } }), 'model.layers', /accepted in model: preset, n_layer/);
  rejects(() => parse({ grid: { learning_rate: [1] } }), 'grid.learning_rate', /accepted in grid: .*lr.*batch_size/);
  rejects(() => parse({ data: { train: 'data/train.txt', shuffle: true } }), 'data.shuffle', /accepted in data: train, eval, format, eval_tokens/);
});

test('field types and ranges are checked where they are written', () => {
  rejects(() => parse({ model: { preset: 'gpt2-huge' } }), 'model.preset', /expected one of gpt2-tiny, gpt2-mini, gpt2,/);
  rejects(() => parse({ model: { preset: 'gpt2-tiny', n_layer: 0 } }), 'model.n_layer', /expected a positive integer, got 0/);
  rejects(() => parse({ model: { preset: 'gpt2-tiny', dropout: 1 } }), 'model.dropout', /expected a number in \[0, 1\), got 1/);
  rejects(() => parse({ optimizer: { kind: 'adam' } }), 'optimizer.kind', /expected one of adamw, sgd, got "adam"/);
  rejects(() => parse({ optimizer: { betas: [0.9] } }), 'optimizer.betas', /a pair \[beta1, beta2\]/);
  rejects(() => parse({ optimizer: { betas: [0.9, 1.5] } }), 'optimizer.betas[1]', /in \[0, 1\), got 1\.5/);
  rejects(() => parse({ schedule: { decay: 'exp' } }), 'schedule.decay', /one of constant, linear, cosine/);
  rejects(() => parse({ clip_norm: -1 }), 'clip_norm', /a number >= 0, got -1/);
  rejects(() => parse({ seed: 2 ** 33 }), 'seed', /integer in \[0, 4294967295\]/);
  rejects(() => parse({ steps: 0 }), 'steps', /positive integer, got 0/);
  rejects(() => parse({ devices: 'gpu:2' }), 'devices', /'cpu:NxT'.*got "gpu:2"/);
  rejects(() => parse({ device_memory: 'lots' }), 'device_memory', /a size like '64MiB'.*got "lots"/);
  rejects(() => parse({ policy: 'fifo' }), 'policy', /one of sharded-lrtf, round-robin, random, model-lrtf, pipeline/);
  rejects(() => parse({ activations: 'checkpoint' }), 'activations', /one of recompute, offload, got "checkpoint"/);
  rejects(() => parse({ data: { train: 'data/train.txt', format: 'markdown' } }), 'data.format', /one of auto, text, wikitext/);
  rejects(() => parse({ name: '' }), 'name', /non-empty string/);
  rejects(() => parse({ model: 'gpt2' }), 'model', /a mapping of fields/);
  rejects(() => parse({ checkpoint_every: 2.5 }), 'checkpoint_every', /an integer >= 0, got 2\.5/);
  assert.equal(parse({ checkpoint_every: 50 }).checkpointEvery, 50);
  assert.equal(parse().checkpointEvery, 0);
  // early_stopping: the same checker as the API's, its errors as ConfigErrors with the field's path.
  rejects(() => parse({ early_stopping: { kind: 'asha', grace_steps: 0 } }), 'early_stopping.grace_steps', /an integer ≥ 1, got 0/);
  rejects(() => parse({ early_stopping: { kind: 'asha', grace_steps: 2, eta: 3 } }), 'early_stopping.eta', /unknown field \(value 3\); accepted with kind asha: kind, metric, mode, grace_steps, reduction_factor, max_steps, brackets/);
  assert.deepEqual(parse().earlyStopping, { kind: 'none' });
  assert.deepEqual(parse({ early_stopping: { kind: 'asha', grace_steps: 2, reduction_factor: 3 } }).earlyStopping, {
    kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: 2, reduction_factor: 3, brackets: 1,
  });
});

test('required fields: data, model (or init), device_memory', () => {
  rejects(() => parse({}, ['data']), 'data', /required field missing/);
  rejects(() => parse({}, ['model']), 'model', /required field missing: a preset/);
  rejects(() => parse({}, ['device_memory']), 'device_memory', /required field missing/);
  rejects(() => parse({ data: { eval: 'data/eval.txt' } }), 'data.train', /required field missing/);
});

test('steps and epochs are exclusive; epochs default to 1', () => {
  rejects(() => parse({ epochs: 2 }), 'steps', /either steps or epochs, not both/);
  assert.deepEqual(parse({ epochs: 2 }, ['steps']).length, { epochs: 2 });
  assert.deepEqual(parse({}, ['steps']).length, { epochs: 1 });
});

test('a hyper-parameter set both in its section and in the grid is an error', () => {
  rejects(() => parse({ optimizer: { lr: 1e-3 } }), 'grid.lr', /also set at optimizer\.lr \(0\.001\); set a hyper-parameter in one place/);
  rejects(() => parse({ batch_size: 4 }), 'grid.batch_size', /also set at batch_size/);
});

test('duplicate grid values are rejected (they would train the same model twice)', () => {
  rejects(() => parse({ grid: { lr: [1e-4, 3e-4, 1e-4] } }), 'grid.lr[2]', /duplicate value 0\.0001 \(same as grid\.lr\[0\]\)/);
});

test('missing data files are reported with the resolved path and the resolution rule', () => {
  rejects(() => parse({ data: { train: 'nope.txt' } }), 'data.train', new RegExp(`no such file: ${join(dir, 'nope.txt')} \\(relative paths resolve against the config file's directory, ${dir}\\)`));
  rejects(() => parse({ data: { train: 'data' } }), 'data.train', /expected a file, got a directory/);
});

test('init.from fixes the shape: shape fields in model or grid are refused', () => {
  rejects(() => parse({ init: { from: 'nowhere' } }), 'init.from', /no such directory/);
  rejects(() => parse({ init: { from: 'data' } }), 'model.preset', /not allowed with init\.from.*accepted in model with init: dropout/);
  const c = parse({ init: { from: 'data' }, model: { dropout: 0.05 } });
  assert.equal(c.initFrom, join(dir, 'data'));
  rejects(() => parse({ init: { from: 'data' }, model: { dropout: 0 }, grid: { n_layer: [1, 2] } }), 'grid.n_layer', /not allowed with init\.from/);
});

test('cross-field rules are checked per model and point at the grid entry that broke them', () => {
  const momentumWithAdam = parse({ grid: { momentum: [0.9] }, batch_size: 2 });
  rejects(() => expandGrid(momentumWithAdam), 'grid.momentum[0]', /momentum applies only to optimizer\.kind sgd; this model uses adamw/);
  const badHeads = parse({ grid: { n_head: [2, 3] }, batch_size: 2 });
  rejects(() => expandGrid(badHeads), 'grid.n_head[1]', /n_embd 64 must be divisible by n_head 3/);
  const longBlocks = parse({ grid: { block_size: [8, 32] }, batch_size: 2 });
  rejects(() => expandGrid(longBlocks), 'grid.block_size[1]', /block_size 32 exceeds the model's n_ctx 16/);
  const smallVocab = parse({ model: { preset: 'gpt2-tiny', vocab_size: 1000 } });
  rejects(() => expandGrid(smallVocab), 'model.vocab_size', /at least 50257.*got 1000/);
  const noBatch = parse({ grid: { lr: [1e-3] } });
  rejects(() => expandGrid(noBatch), 'batch_size', /required field missing/);
  const custom = parse({ model: { n_layer: 1, n_head: 2, n_ctx: 8 } });
  rejects(() => expandGrid(custom), 'model', /missing model\.n_embd/);
});

test('sgd takes momentum/nesterov; adamw options are refused for it', () => {
  const c = parse({ optimizer: { kind: 'sgd', momentum: 0.5, nesterov: true }, grid: { lr: [0.1] }, batch_size: 2 });
  const [v] = expandGrid(c);
  assert.deepEqual(v.spec.optimizer, { kind: 'sgd', lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0 });
  const bad = parse({ optimizer: { kind: 'sgd', eps: 1e-6 }, batch_size: 2, grid: {} });
  rejects(() => expandGrid(bad), 'optimizer.eps', /eps applies only to optimizer\.kind adamw; this model uses sgd/);
});

test('grid.model: named models of different shapes (and families) are the outermost axis, each resolved whole', async () => {
  const models = [
    { name: 'narrow', preset: 'gpt2-tiny', n_ctx: 16 },
    { name: 'wide', n_layer: 1, n_head: 4, n_embd: 128, n_ctx: 32, dropout: 0, tie: false },
  ];
  const c = parse({ batch_size: 2, grid: { model: models, lr: [1e-3, 1e-4] } }, ['model']);
  const vs = expandGrid(c);
  assert.deepEqual(vs.map((v) => v.name), ['narrow,lr=1e-3', 'narrow,lr=1e-4', 'wide,lr=1e-3', 'wide,lr=1e-4']);
  assert.deepEqual(vs[2].hparams, { model: 'wide', lr: 1e-3 });
  assert.deepEqual(vs[2].spec.model, { family: 'gpt2', config: { n_layer: 1, n_head: 4, n_embd: 128, n_ctx: 32, vocab_size: 50257, dropout: 0, tie: false } });
  assert.equal(vs[0].spec.blockSize, 16);
  assert.equal(vs[2].spec.blockSize, 32, 'each model defaults to its own context');
  // Errors name the entry and field.
  rejects(() => parse({ batch_size: 2, grid: { model: [{ name: 'a', preset: 'gpt2-tiny', n_layers: 2 }] } }, ['model']), 'grid.model[0].n_layers', /unknown field/);
  rejects(() => parse({ batch_size: 2, grid: { model: [{ name: 'a', preset: 'gpt2-tiny', n_layer: 0 }] } }, ['model']), 'grid.model[0].n_layer', /positive integer, got 0/);
  rejects(() => parse({ batch_size: 2, grid: { model: [{ name: 'a', preset: 'gpt2-tiny' }, { name: 'a', preset: 'gpt2-mini' }] } }, ['model']), 'grid.model[1].name', /duplicate model name "a"/);
  rejects(() => parse({ batch_size: 2, grid: { model: [{ preset: 'gpt2-tiny' }] } }, ['model']), 'grid.model[0].name', /non-empty string/);
  rejects(() => parse({ batch_size: 2, grid: { model: [{ name: 'a', family: 'gpt3' }] } }, ['model']), 'grid.model[0].family', /expected one of gpt2/);
  rejects(() => parse({ batch_size: 2, grid: { model: models } }), 'model', /not used with grid\.model/);
  rejects(() => parse({ batch_size: 2, grid: { model: models, dropout: [0, 0.1] } }, ['model']), 'grid.dropout', /not used with grid\.model/);
  rejects(() => expandGrid(parse({ block_size: 16, batch_size: 2, grid: { model: [{ name: 'a', preset: 'gpt2-tiny', n_ctx: 8 }] } }, ['model'])), 'block_size', /block_size 16 exceeds the model's n_ctx 8/);
  // Another family's fields are checked by the family, and the tokenizer's vocabulary still has to fit.
  await import('../hydra/fixtures/mlp-family.js');
  const mlp = (fields: Record<string, unknown>) => expandGrid(parse({ batch_size: 2, grid: { model: [{ name: 'm', family: 'test-mlp', ...fields }] } }, ['model']));
  assert.deepEqual(mlp({ vocab: 50257, n_ctx: 8, widths: [4, 4] })[0].spec.model, { family: 'test-mlp', config: { vocab: 50257, n_ctx: 8, widths: [4, 4] } });
  rejects(() => mlp({ vocab: 50257, n_ctx: 8, widths: 'wide' }), 'grid.model[0]', /^grid\.model\[0\]\.widths: expected a list of positive integers/);
  rejects(() => mlp({ vocab: 37, n_ctx: 8, widths: [4] }), 'grid.model[0]', /vocabulary \(37\) is smaller than the GPT-2 tokenizer's 50257/);
});
