/**
 * `hydra train` and its output directory: checked before anything else, locked for the life of the job (a second
 * run on it is refused and the first's files stay intact), an earlier run moved aside whole, stale temp files swept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { runTrain, type TrainRunDeps } from '../../src/cli/train-run.js';
import { OutDirLockedError } from '../../src/io/run-lock.js';
import type { JobResult, TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { tempDir, writeFile } from '../config/fixtures.js';
import { fakeTrain } from './fake-engine.js';

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(40) + '\n';

function setup(over: Record<string, unknown> = {}) {
  const dir = tempDir();
  writeFile(join(dir, 'train.txt'), TEXT.repeat(3));
  const file = writeFile(
    join(dir, 'job.yaml'),
    stringify({ name: 'j', model: { preset: 'gpt2-tiny', n_ctx: 16 }, data: { train: 'train.txt' }, batch_size: 2, steps: 3, devices: 'js:1', device_memory: '64MiB', out_dir: 'out', ...over }),
  );
  return { dir, file, out: join(dir, 'out') };
}

function deps(dir: string, train: TrainRunDeps['train'] = fakeTrain()) {
  const stdout = sink(), stderr = sink();
  return { stdout, stderr, d: { train, stdout, stderr, cwd: dir, cacheDir: join(dir, 'cache'), progressMode: 'lines' as const, saveModel: async () => undefined } };
}

test('out_dir under /proc is refused within a second, before the data is read or anything trains', async () => {
  const { dir, file } = setup({ out_dir: '/proc/hydra-out' });
  let trained = false;
  const { stderr, d } = deps(dir, async () => ((trained = true), {} as JobResult));
  const t0 = performance.now();
  await assert.rejects(runTrain(file, {}, d), /out_dir: \/proc\/hydra-out: is under \/proc/);
  assert.ok(performance.now() - t0 < 1000);
  assert.ok(!trained);
  assert.equal(stderr.text(), '', 'nothing was done before the refusal');
});

test('two concurrent runs on one out_dir: the second is refused naming the first\'s pid and start time; the first\'s files are intact', async () => {
  const { dir, file, out } = setup();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // The second run starts once the first is training (it holds the lock then), not after a fixed pause.
  let training!: () => void;
  const started = new Promise<void>((r) => (training = r));
  const engine = fakeTrain();
  const slow = async (tasks: TrainTask[], options: TrainOptions) => {
    options.onEvent?.({ type: 'log', t: 0, message: 'first run training' });
    training();
    await gate;
    return engine(tasks, options);
  };
  const first = deps(dir, slow);
  const running = runTrain(file, {}, first.d);
  await Promise.race([started, running]);
  const second = deps(dir);
  await assert.rejects(runTrain(file, {}, second.d), (e: unknown) => e instanceof OutDirLockedError && new RegExp(`in use by another hydra run: pid ${process.pid}, started \\d{4}-`).test(e.message));
  await assert.rejects(runTrain(file, { resume: true }, second.d), OutDirLockedError, '--resume is refused too');
  release();
  const outcome = await running;
  assert.deepEqual(outcome.writeFailures, []);
  const events = readFileSync(join(out, 'events.jsonl'), 'utf8');
  assert.match(events, /first run training/);
  assert.equal(events.trimEnd().split('\n').filter((l) => JSON.parse(l).type === 'model-end').length, 1, 'one run\'s events only');
  assert.ok(existsSync(join(out, 'results.json')));
  assert.ok(!existsSync(join(out, 'previous')), 'the refused run moved nothing aside');
  // Once the first has ended the lock is free.
  await runTrain(file, {}, deps(dir).d);
});

test('a fresh run in a used out_dir moves the whole earlier run aside and says where; --resume keeps it', async () => {
  const { dir, file, out } = setup();
  await runTrain(file, {}, deps(dir).d);
  writeFile(join(out, 'models', 'old', 'model.safetensors'), 'old weights');
  writeFile(join(out, 'checkpoints', 'j.ckpt'), 'old checkpoint');
  const oldResults = readFileSync(join(out, 'results.json'), 'utf8');
  const again = deps(dir);
  await runTrain(file, {}, again.d);
  const [stamp] = readdirSync(join(out, 'previous'));
  const prev = join(out, 'previous', stamp);
  assert.match(again.stderr.text(), new RegExp(`out held an earlier run: moved its results.json, results.csv, events.jsonl, models, checkpoints, job.json, report.html to out/previous/${stamp} \\(to continue that run instead, move them back and use --resume\\)`));
  assert.equal(readFileSync(join(prev, 'results.json'), 'utf8'), oldResults);
  assert.equal(readFileSync(join(prev, 'models', 'old', 'model.safetensors'), 'utf8'), 'old weights');
  assert.equal(readFileSync(join(prev, 'checkpoints', 'j.ckpt'), 'utf8'), 'old checkpoint');
  assert.ok(!existsSync(join(out, 'models', 'old')) && !existsSync(join(out, 'checkpoints')), 'nothing of the earlier run is left beside the new one');
  // --resume continues in place: nothing moved.
  const resumed = deps(dir);
  await runTrain(file, { resume: true }, resumed.d);
  assert.doesNotMatch(resumed.stderr.text(), /earlier run/);
  assert.equal(readdirSync(join(out, 'previous')).length, 1);
});

test('stale temp files of interrupted atomic writes are swept at start; a live process\'s are kept', async () => {
  const { dir, file, out } = setup();
  const dead = join(out, 'checkpoints', '.j.ckpt.tmp-999999999-0123abcd');
  const live = join(out, 'checkpoints', '.k.ckpt.tmp-1-0123abcd'); // pid 1 is always alive
  writeFile(dead, 'x'.repeat(1000));
  writeFile(live, 'y');
  writeFileSync(join(out, 'keep.txt'), 'not a temp file');
  const run = deps(dir);
  await runTrain(file, { resume: true }, { ...run.d, train: async (t, o) => fakeTrain()(t, o) });
  assert.ok(!existsSync(dead));
  assert.ok(existsSync(live) && existsSync(join(out, 'keep.txt')));
  assert.match(run.stderr.text(), /removed out\/checkpoints\/\.j\.ckpt\.tmp-999999999-0123abcd, a partial file left by an interrupted run/);
});
