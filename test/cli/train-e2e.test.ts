/**
 * `hydra train` end to end with the real engine: two tiny untied GPT-2s (cut into 2 shards by a 16 MiB budget) on
 * js:2 for 3 steps, with evaluation, then the files and the saved weights are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawn, spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { resumeCommand, runTrain } from '../../src/cli/train-run.js';
import { train } from '../../src/hydra/job/train.js';
import { loadHfGpt2 } from '../../src/io/hf-gpt2.js';
import { saveModelWeights } from '../../src/io/hf-families.js';
import { tempDir, writeFile } from '../config/fixtures.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const EVAL_TEXT = join(REPO, 'examples/data/wikitext-tiny-eval.txt');

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

function writeJob(dir: string, over: Record<string, unknown> = {}): string {
  return writeFile(
    join(dir, 'job.yaml'),
    stringify({
      name: 'e2e',
      model: { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, dropout: 0.1, tie: false },
      data: { train: EVAL_TEXT, eval: EVAL_TEXT, eval_tokens: 64 },
      grid: { lr: [1e-2, 1e-3] },
      batch_size: 2,
      clip_norm: 1,
      schedule: { warmup_steps: 1, decay: 'linear', min_ratio: 0.1 },
      steps: 3,
      devices: 'js:2',
      device_memory: '16MiB',
      plan_dir: 'plans',
      out_dir: 'out',
      ...over,
    }),
  );
}

test('hydra train with the real engine writes results, events and loadable weights', async () => {
  const dir = tempDir();
  const file = writeJob(dir);
  const stdout = sink(), stderr = sink();
  const outcome = await runTrain(file, {}, {
    train, stdout, stderr, cwd: dir, cacheDir: join(dir, 'tokens'), progressMode: 'lines',
    saveModel: saveModelWeights,
  });
  const out = join(dir, 'out');
  const result = outcome.result!;
  assert.deepEqual(result.models.map((m) => [m.name, m.status, m.steps]), [['lr=0.01', 'done', 3], ['lr=1e-3', 'done', 3]]);
  assert.ok(result.models.every((m) => m.plan.shards.length === 2), 'the budget cuts each model into 2 shards');
  assert.match(stderr.text(), /plan \w+ \(new\): B=2 T=8, budget 16\.0 MiB → 2 shards/);

  const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.filter((e) => e.type === 'step').length, 6);
  assert.equal(events.filter((e) => e.type === 'eval').length, 2);
  assert.equal(events.filter((e) => e.type === 'model-end').length, 2);
  assert.ok(events.some((e) => e.type === 'task-end' && e.shard === 1));

  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(json.models.length, 2);
  for (const m of json.models) {
    assert.equal(m.losses.length, 3);
    assert.equal(m.evals.length, 1);
    assert.ok(Number.isFinite(m.finalEvalLoss));
  }
  assert.equal(readFileSync(join(out, 'results.csv'), 'utf8').trimEnd().split('\n').length, 3);

  for (const m of result.models) {
    const dirM = join(out, 'models', m.name);
    assert.ok(existsSync(join(dirM, 'config.json')) && existsSync(join(dirM, 'model.safetensors')));
    const loaded = await loadHfGpt2(dirM);
    assert.equal(loaded.config.n_layer, 2);
    assert.equal(loaded.config.tie, false);
    for (const [name, t] of m.weights) assert.deepEqual(loaded.tensors.get(name)?.data, t.data, name);
  }
  assert.match(stdout.text(), /^1\s+lr=/m);
  assert.match(stdout.text(), /job: 2 models \(2 done\)/);
});

test('the hydra binary wires `train`: --dry-run lists models; a bad config exits 1 naming the field', () => {
  const dir = tempDir();
  const main = join(REPO, 'dist/src/cli/main.js');
  const ok = spawnSync(process.execPath, [main, 'train', writeJob(dir), '--dry-run'], { cwd: dir, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^lr=0\.01: lr=0\.01; gpt2\(n_layer=2,n_head=2,n_embd=16/m);
  const badFile = writeJob(dir, { grid: { lr: [1e-2, 'fast'] } });
  const bad = spawnSync(process.execPath, [main, 'train', badFile], { cwd: dir, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), `hydra: ${badFile}: grid.lr[1]: expected a positive number, got "fast"`);
});

test('hydra train stopped part-way checkpoints every model; --resume finishes with the uninterrupted results', async () => {
  const run = async (dir: string, opts: { stopAtFirstStep?: boolean; resume?: boolean } = {}) => {
    const stop = new AbortController();
    const trainFn: typeof train = (tasks, o) =>
      train(tasks, {
        ...o,
        onEvent: (e) => {
          o.onEvent?.(e);
          if (opts.stopAtFirstStep && e.type === 'step') stop.abort();
        },
      });
    const stdout = sink(), stderr = sink();
    const outcome = await runTrain(writeJob(dir, { steps: 4 }), { resume: opts.resume }, {
      train: trainFn, stdout, stderr, cwd: dir, cacheDir: join(dir, 'tokens'), progressMode: 'lines', signal: stop.signal,
    });
    return { result: outcome.result!, stdout: stdout.text(), stderr: stderr.text() };
  };
  const straight = await run(tempDir());

  const dir = tempDir();
  const first = await run(dir, { stopAtFirstStep: true });
  assert.ok(first.result.models.some((m) => m.status === 'stopped'), first.result.models.map((m) => `${m.name} ${m.status}`).join(', '));
  assert.match(first.stdout, /stopped: \d models? checkpointed in out\/checkpoints; continue with: hydra train job\.yaml --resume/);
  for (const m of first.result.models) assert.ok(existsSync(join(dir, 'out', 'checkpoints', `${m.name}.ckpt`)), m.name);

  const resumed = await run(dir, { resume: true });
  assert.match(resumed.stderr, /resumed from .*checkpoints\/lr=0\.01\.ckpt at step \d/);
  for (const want of straight.result.models) {
    const got = resumed.result.models.find((m) => m.name === want.name)!;
    assert.equal(got.status, 'done');
    assert.deepEqual(got.losses, want.losses, `${want.name}: losses`);
    assert.deepEqual(got.evals, want.evals, `${want.name}: evals`);
    for (const [name, t] of want.weights) assert.deepEqual(got.weights.get(name)!.data, t.data, `${want.name}: ${name}`);
  }
});

test('the hydra binary: Ctrl-C stops gracefully (checkpoints, results, exit 130) and --resume ends bitwise as an uninterrupted run', async () => {
  const dir = tempDir();
  const file = writeJob(dir, { steps: 40 });
  const main = join(REPO, 'dist/src/cli/main.js');
  // The same job run by the binary without interruption, alongside: the reference the resumed job must equal.
  const straightDir = tempDir();
  const straight = new Promise<number | null>((r) =>
    spawn(process.execPath, [main, 'train', writeJob(straightDir, { steps: 40 }), '--progress', 'lines'], { cwd: straightDir, stdio: 'ignore' }).on('exit', r),
  );
  const child = spawn(process.execPath, [main, 'train', file, '--progress', 'lines'], { cwd: dir });
  let stdout = '', stderr = '';
  child.stdout.on('data', (c) => (stdout += String(c)));
  child.stderr.on('data', (c) => (stderr += String(c)));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r((exitCode = c))));
  const events = join(dir, 'out', 'events.jsonl');
  // Interrupt once training is under way (the first step event is in events.jsonl).
  const deadline = Date.now() + 60_000;
  while (!(existsSync(events) && readFileSync(events, 'utf8').includes('"type":"step"'))) {
    assert.equal(exitCode, undefined, `hydra exited before its first step:\n${stderr}`);
    assert.ok(Date.now() < deadline, `no step within 60 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stdout);
  assert.match(stdout, /continue with: hydra train job\.yaml --resume/);
  const json = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8'));
  assert.ok(json.models.some((m: { status: string }) => m.status === 'stopped'));

  const resumed = spawnSync(process.execPath, [main, 'train', file, '--resume', '--progress', 'lines'], { cwd: dir, encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from .* at step \d+/);
  assert.equal(await straight, 0, 'the uninterrupted run succeeds');
  type Saved = { name: string; status: string; losses: number[]; evals: unknown[]; weightsDir: string };
  const models = (d: string) => (JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8')) as { models: Saved[] }).models;
  const want = models(straightDir);
  const done = models(dir);
  assert.deepEqual(done.map((m) => m.name), want.map((m) => m.name));
  for (const [i, m] of done.entries()) {
    assert.equal(m.status, 'done');
    assert.equal(m.losses.length, 40);
    assert.deepEqual(m.losses, want[i].losses, `${m.name}: losses`);
    assert.deepEqual(m.evals, want[i].evals, `${m.name}: evals`);
    const got = await loadHfGpt2(join(dir, 'out', m.weightsDir));
    const ref = await loadHfGpt2(join(straightDir, 'out', want[i].weightsDir));
    assert.equal(got.tensors.size, ref.tensors.size);
    for (const [name, t] of ref.tensors) assert.deepEqual(got.tensors.get(name)!.data, t.data, `${m.name}: ${name}`);
  }
});

test('the resume hint repeats the command-line overrides (quoted for the shell) and adds --resume', () => {
  assert.equal(resumeCommand('job.yaml', {}), 'hydra train job.yaml --resume');
  assert.equal(
    resumeCommand('my job.yaml', { out: "runs/it's", steps: 40, devices: 'cpu:2x1', deviceMemory: '512MiB', policy: 'random', hostMemory: '8GiB' }),
    "hydra train 'my job.yaml' --devices cpu:2x1 --device-memory 512MiB --host-memory 8GiB --policy random --out 'runs/it'\\''s' --steps 40 --resume",
  );
});

test('the hydra bin is executable after the build (npx hydra runs it directly)', () => {
  const main = join(REPO, 'dist/src/cli/main.js');
  assert.match(readFileSync(main, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.doesNotThrow(() => accessSync(main, constants.X_OK), 'dist/src/cli/main.js must have its executable bit');
});
