import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { runTrain } from '../../src/cli/train-run.js';
import { tempDir, writeFile } from '../config/fixtures.js';
import { fakeTrain, type FakeCall } from './fake-engine.js';

function sink(): Writable & { text: () => string; isTTY: boolean } {
  const chunks: string[] = [];
  const w = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }) as Writable & { text: () => string; isTTY: boolean };
  w.isTTY = false;
  w.text = () => chunks.join('');
  return w;
}

const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(40) + '\n';

function setup(over: Record<string, unknown> = {}) {
  const dir = tempDir();
  writeFile(join(dir, 'cfg/data/train.txt'), TEXT.repeat(3));
  writeFile(join(dir, 'cfg/data/eval.txt'), TEXT);
  const file = writeFile(
    join(dir, 'cfg/job.yaml'),
    stringify({
      name: 'fake-job',
      model: { preset: 'gpt2-tiny', n_ctx: 16 },
      data: { train: 'data/train.txt', eval: 'data/eval.txt' },
      grid: { lr: [1e-3, 1e-2, 5], batch_size: [4, 2] },
      steps: 5,
      devices: 'js:2',
      device_memory: '64MiB',
      out_dir: 'out',
      ...over,
    }),
  );
  return { dir, file, outDir: join(dir, 'cfg/out') };
}

test('hydra train with the injected engine: tasks built from the config, files and table written', async () => {
  const { dir, file, outDir } = setup();
  const calls: FakeCall[] = [];
  const stdout = sink(), stderr = sink();
  const saved: string[] = [];
  const outcome = await runTrain(file, {}, {
    train: fakeTrain(calls), stdout, stderr, cwd: dir, cacheDir: join(dir, 'tok-cache'),
    saveModel: async (d, model, weights) => void saved.push(`${d}:${(model.config as { n_ctx: number }).n_ctx}:${weights.size}`),
  });
  const [call] = calls;
  // tasks
  assert.equal(call.tasks.length, 6);
  assert.deepEqual(call.tasks.map((t) => t.name), ['lr=1e-3,bs=4', 'lr=1e-3,bs=2', 'lr=0.01,bs=4', 'lr=0.01,bs=2', 'lr=5,bs=4', 'lr=5,bs=2']);
  const t0 = call.tasks[0];
  assert.equal(t0.train.B, 4);
  assert.equal(t0.train.T, 16);
  assert.equal(t0.eval?.B, 4);
  const evalBlocks = call.tasks.map((t) => t.eval!.stepsPerEpoch * t.eval!.B);
  assert.ok(evalBlocks.every((n) => n === evalBlocks[0] && n > 0), `every model evaluates the same blocks: ${evalBlocks}`);
  assert.match(stderr.text(), new RegExp(`eval: every model with block size 16 evaluates the same ${evalBlocks[0]} held-out blocks`));
  assert.deepEqual(call.tasks[1].eval!.batch(0, 0).tokens, t0.eval!.batch(0, 0).tokens.subarray(0, 32), 'in file order');
  assert.equal(t0.steps, 5);
  assert.equal(t0.optimizer.lr, 1e-3);
  assert.deepEqual(t0.hparams, { lr: 1e-3, batch_size: 4 });
  assert.equal(call.options.devices, 'js:2');
  assert.equal(call.options.deviceMemory, 64 * 1024 * 1024);
  // tokenization through the cache
  assert.match(stderr.text(), /train data: .*train\.txt: tokens: \d+ \(tokenized in/);
  // events streamed: every event, in order
  const lines = readFileSync(join(outDir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, call.events.length);
  assert.deepEqual(JSON.parse(lines[0]), JSON.parse(JSON.stringify(call.events[0])));
  // results files
  const json = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
  assert.equal(json.models.length, 6);
  assert.equal(json.config.name, 'fake-job');
  assert.deepEqual(json.config.grid[0], { key: 'lr', values: [1e-3, 1e-2, 5] });
  const spec = json.models.find((m: { name: string }) => m.name === 'lr=0.01,bs=2').spec;
  assert.deepEqual([spec.batchSize, spec.blockSize, spec.optimizer.lr, (spec.model.config as { n_layer: number }).n_layer], [2, 16, 0.01, 2]);
  assert.equal(readFileSync(join(outDir, 'results.csv'), 'utf8').trimEnd().split('\n').length, 7);
  assert.equal(saved.length, 4, 'weights of the 4 finished models (not the diverged ones)');
  assert.ok(saved.includes(`${join(outDir, 'models', 'lr=0.01,bs=4')}:16:1`));
  // table: best (largest lr that did not diverge) first, diverged last with reasons
  const out = stdout.text();
  const rows = out.split('\n').filter((l) => /^\d+\s/.test(l));
  assert.deepEqual(rows.map((r) => r.split(/\s+/)[1]), ['lr=0.01,bs=4', 'lr=0.01,bs=2', 'lr=1e-3,bs=4', 'lr=1e-3,bs=2', 'lr=5,bs=4', 'lr=5,bs=2']);
  assert.match(out, /lr=5,bs=4: diverged — loss became NaN at step 0/);
  assert.match(out, /job: 6 models \(4 done, 2 diverged\), policy sharded-lrtf/);
  assert.match(out, /wrote .*results\.json/);
  // progress went to stderr as plain lines
  assert.match(stderr.text(), /lr=1e-3,bs=4\s+step 5\/5 {2}loss [\d.]+ {2}done/);
  assert.doesNotMatch(stderr.text(), /\x1b/);
  assert.match(stderr.text(), /plan plan-B4 \(new\): B=4 T=16/);
  assert.equal(outcome.result?.models.length, 6);
});

test('second run reads tokens from the cache; flags override the file', async () => {
  const { dir, file } = setup({ grid: { lr: [1e-3] }, batch_size: 2 });
  const cacheDir = join(dir, 'tok-cache');
  await runTrain(file, {}, { train: fakeTrain(), stdout: sink(), stderr: sink(), cwd: dir, cacheDir });
  const calls: FakeCall[] = [];
  const stderr = sink();
  await runTrain(file, { steps: '2', devices: 'js:3', policy: 'round-robin', out: 'flag-out' }, { train: fakeTrain(calls), stdout: sink(), stderr, cwd: dir, cacheDir });
  assert.match(stderr.text(), /train data: .*tokens: \d+ \(from cache\)/);
  assert.equal(calls[0].tasks[0].steps, 2);
  assert.equal(calls[0].tasks[0].name, 'fake-job', 'a single model takes the job name');
  assert.equal(calls[0].options.devices, 'js:3');
  assert.equal(calls[0].options.policy, 'round-robin');
  assert.ok(existsSync(join(dir, 'flag-out/results.json')), '--out is relative to the current directory');
});

test('--dry-run lists the models without tokenizing or training', async () => {
  const { dir, file } = setup();
  const calls: FakeCall[] = [];
  const stdout = sink();
  await runTrain(file, { dryRun: true }, { train: fakeTrain(calls), stdout, stderr: sink(), cwd: dir });
  assert.equal(calls.length, 0);
  assert.equal(stdout.text().trimEnd().split('\n').length, 6);
  assert.match(stdout.text(), /^lr=1e-3,bs=4: lr=1e-3 batch_size=4; gpt2\(n_layer=2/);
});

test('data too small for a batch is a config error naming the data file', async () => {
  const { dir, file } = setup({ grid: { batch_size: [500] } });
  await assert.rejects(
    runTrain(file, {}, { train: fakeTrain(), stdout: sink(), stderr: sink(), cwd: dir, cacheDir: join(dir, 'c') }),
    /job\.yaml: data\.train: .*train\.txt has \d+ blocks of 16 tokens, fewer than batch_size 500/,
  );
});

test('init.from: shape and weights come from the checkpoint, dropout from the config', async () => {
  const { dir, file } = setup({ init: { from: 'ckpt' }, model: { dropout: 0 }, grid: { lr: [1e-3, 1e-4] }, batch_size: 2 });
  const { initModel } = await import('../../src/nn/init.js');
  const { buildGpt2 } = await import('../../src/nn/gpt2.js');
  const { saveHfGpt2, hfGpt2Weights } = await import('../../src/io/hf-gpt2.js');
  const shape = { n_layer: 1, n_head: 2, n_embd: 8, n_ctx: 16, vocab_size: 50257, dropout: 0.1, tie: true };
  await saveHfGpt2(join(dir, 'cfg/ckpt'), shape, initModel(buildGpt2(shape), 5));
  const calls: FakeCall[] = [];
  const stderr = sink();
  await runTrain(file, {}, {
    train: fakeTrain(calls), stdout: sink(), stderr, cwd: dir, cacheDir: join(dir, 'c'),
    loadInit: async (d) => hfGpt2Weights(d).then((m) => ({ config: m.config, weights: m.source, warnings: m.warnings })),
  });
  assert.match(stderr.text(), /init: .*ckpt: gpt2\(n_layer=1,n_head=2,n_embd=8,n_ctx=16/);
  const [a, b] = calls[0].tasks;
  assert.deepEqual(a.model, { family: 'gpt2', config: { ...shape, dropout: 0 } });
  assert.ok(a.weights && a.weights === b.weights, 'one weight source shared by every model');
  assert.ok(!(a.weights instanceof Map) && a.weights.describe.endsWith('ckpt'), 'read by each model into its host tier, not loaded here');
});

test('init.from a checkpoint with a vocabulary smaller than GPT-2\'s is refused', async () => {
  const { dir, file } = setup({ init: { from: 'ckpt' }, model: { dropout: 0 }, grid: { lr: [1e-3] }, batch_size: 2 });
  writeFile(join(dir, 'cfg/ckpt/config.json'), '{}');
  const small = { n_layer: 1, n_head: 2, n_embd: 8, n_ctx: 16, vocab_size: 101, dropout: 0.1, tie: true };
  await assert.rejects(
    runTrain(file, {}, { train: fakeTrain(), stdout: sink(), stderr: sink(), cwd: dir, loadInit: async () => ({ config: small, weights: new Map() }) }),
    /job\.yaml: init\.from: the checkpoint's vocab_size 101 is smaller than the GPT-2 tokenizer's 50257/,
  );
});

test('eval_tokens caps the held-out set; a set too small for whole batches of every size is an error', async () => {
  const capped = setup({ data: { train: 'data/train.txt', eval: 'data/eval.txt', eval_tokens: 70 } });
  const calls: FakeCall[] = [];
  await runTrain(capped.file, {}, { train: fakeTrain(calls), stdout: sink(), stderr: sink(), cwd: capped.dir, cacheDir: join(capped.dir, 'c') });
  // 70 tokens = 4 blocks of 16, a multiple of both batch sizes (4 and 2).
  assert.deepEqual(calls[0].tasks.slice(0, 2).map((t) => [t.eval!.B, t.eval!.stepsPerEpoch]), [[4, 1], [2, 2]]);
  const tiny = setup({ data: { train: 'data/train.txt', eval: 'data/eval.txt', eval_tokens: 40 } });
  await assert.rejects(
    runTrain(tiny.file, {}, { train: fakeTrain(), stdout: sink(), stderr: sink(), cwd: tiny.dir, cacheDir: join(tiny.dir, 'c') }),
    /job\.yaml: data\.eval: data\.eval_tokens 40 gives 2 blocks of 16 tokens; .* needs at least 4 \(a multiple of every batch_size: 4, 2\)/,
  );
});

test('examples/arch-compare.yaml: named GPT-2 and Llama models of different shapes, one plan each, one job', async () => {
  const file = join(process.cwd(), 'examples/arch-compare.yaml');
  const dir = tempDir();
  const stdout = sink(), stderr = sink();
  await runTrain(file, { dryRun: true }, { train: fakeTrain([]), stdout, stderr, cwd: dir });
  assert.match(stderr.text(), /arch-compare: 5 models \(model\), 30 steps each/);
  const lines = stdout.text().trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.split(':')[0]), ['gpt2-deep', 'gpt2-wide', 'gpt2-untied', 'llama-deep', 'llama-wide']);
  const archs = lines.map((l) => l.split('; ')[1].split(', B=')[0]);
  assert.equal(new Set(archs).size, 5, 'five architectures');
  assert.deepEqual(archs.map((a) => a.split('(')[0]), ['gpt2', 'gpt2', 'gpt2', 'llama', 'llama']);

  // Through the engine interface: each model's task carries its own architecture.
  const { file: small, dir: d2 } = setup({
    model: undefined,
    grid: { model: [{ name: 'narrow', preset: 'gpt2-tiny', n_ctx: 16 }, { name: 'wide', preset: 'gpt2-tiny', n_embd: 96, n_ctx: 16 }], lr: [1e-3, 1e-2] },
    batch_size: 2,
  });
  const calls: FakeCall[] = [];
  await runTrain(small, {}, { train: fakeTrain(calls), stdout: sink(), stderr: sink(), cwd: d2, cacheDir: join(d2, 'c') });
  const tasks = calls[0].tasks;
  assert.deepEqual(tasks.map((t) => t.name), ['narrow,lr=1e-3', 'narrow,lr=0.01', 'wide,lr=1e-3', 'wide,lr=0.01']);
  assert.deepEqual(tasks.map((t) => (t.model.config as { n_embd: number }).n_embd), [64, 64, 96, 96]);
  assert.equal(tasks[2].hparams?.model, 'wide');
});
