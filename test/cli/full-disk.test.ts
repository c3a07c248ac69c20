/**
 * A disk that fills (simulated by a file-size limit, RLIMIT_FSIZE, on a child process: writes past it fail with
 * EFBIG like ENOSPC on a full disk, with SIGXFSZ ignored) at the end of a job and while events are appended: the
 * results are still written, every failure names its file, and the run exits non-zero with a summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, writeFile } from '../config/fixtures.js';

const RUNNER = new URL('./limited-run.js', import.meta.url).pathname;
const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(40) + '\n';

/** Run the fake job in a child whose files may not exceed `limitKiB`. */
function runLimited(limitKiB: number, extra: string[] = []) {
  const dir = tempDir();
  writeFile(join(dir, 'train.txt'), TEXT.repeat(3));
  const file = writeFile(
    join(dir, 'job.yaml'),
    stringify({ name: 'full', model: { preset: 'gpt2-tiny', n_ctx: 16 }, data: { train: 'train.txt' }, grid: { lr: [1e-3, 1e-2] }, batch_size: 2, steps: 20, devices: 'js:1', device_memory: '64MiB', out_dir: 'out' }),
  );
  // bash's ulimit -f counts 1024-byte blocks; an ignored signal stays ignored across exec.
  const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f ${limitKiB}; exec "$0" "$@"`, process.execPath, RUNNER, file, ...extra], {
    encoding: 'utf8',
    env: { ...process.env, HYDRA_TEST_CACHE: join(dir, 'cache') },
  });
  return { ...r, out: join(dir, 'out') };
}

test('disk full at the end: results.json and results.csv written before (and without) the weights, failures named, exit 1', () => {
  const r = runLimited(1024); // 1 MiB: the results fit, each model's 2 MiB of weights does not
  assert.equal(r.status, 1, r.stderr);
  const json = JSON.parse(readFileSync(join(r.out, 'results.json'), 'utf8'));
  assert.equal(json.models.length, 2);
  assert.ok(json.models.every((m: { weightsDir?: string }) => m.weightsDir === undefined), 'no weights directory is claimed');
  assert.equal(json.problems.length, 2, 'results.json records what could not be written');
  assert.ok(existsSync(join(r.out, 'results.csv')));
  assert.match(r.stdout, /lr=1e-3/, 'the table is printed');
  for (const m of ['lr=1e-3', 'lr=0.01']) {
    const path = join(r.out, 'models', m, 'model.safetensors');
    assert.ok(r.stderr.includes(`weights of model '${m}': cannot write ${path}: EFBIG`), r.stderr);
    assert.ok(!existsSync(path), 'no partial weights file');
  }
  assert.match(r.stderr, /not everything could be written \(the results are in .*results\.json\)/);
});

test('disk full while appending events: the job goes on, events.jsonl stays whole lines, results written, exit 1', () => {
  const r = runLimited(64, ['--noisy-events']); // 64 KiB: events (4 KiB per step) outgrow it half-way
  assert.equal(r.status, 1, r.stderr);
  const events = join(r.out, 'events.jsonl');
  assert.ok(statSync(events).size <= 64 * 1024);
  const lines = readFileSync(events, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a complete line');
  for (const l of lines) JSON.parse(l);
  const json = JSON.parse(readFileSync(join(r.out, 'results.json'), 'utf8'));
  assert.deepEqual(json.models.map((m: { steps: number }) => m.steps), [20, 20], 'every model trained to the end');
  assert.ok(json.problems.some((p: string) => p.startsWith(`cannot write ${events}: EFBIG`)), JSON.stringify(json.problems));
  assert.match(r.stderr, new RegExp(`cannot write ${events.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EFBIG .*the file holds the first \\d+ events of the job's \\d+`));
});
