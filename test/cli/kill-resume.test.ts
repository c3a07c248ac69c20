/**
 * kill -9 at a random moment: the real `hydra train` binary, checkpointing every step, is killed (no chance to clean
 * up: its lock, temp files and half-written events stay), then `--resume` finishes the job with bitwise the weights
 * and losses of an uninterrupted run. The moment is random on purpose; it is printed with any failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, writeFile } from '../config/fixtures.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const MAIN = join(REPO, 'dist/src/cli/main.js');
const TEXT = join(REPO, 'examples/data/wikitext-tiny-eval.txt');

function job(dir: string): string {
  return writeFile(
    join(dir, 'job.yaml'),
    stringify({
      name: 'kill',
      model: { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 8, dropout: 0.1, tie: true },
      data: { train: TEXT },
      optimizer: { kind: 'adamw', lr: 1e-2 },
      batch_size: 2,
      steps: 8,
      devices: 'cpu:1x1',
      device_memory: '64MiB',
      checkpoint_every: 1,
      plan_dir: join(dir, '..', 'plans'),
      out_dir: 'out',
    }),
  );
}

const outcome = (out: string) => {
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { models: { name: string; status: string; losses: number[] }[] };
  const weights = Object.fromEntries(json.models.map((m) => [m.name, readFileSync(join(out, 'models', m.name, 'model.safetensors'))]));
  return { models: json.models.map((m) => [m.name, m.status, m.losses]), weights };
};

test('kill -9 at a random moment with checkpoint_every, then --resume: bitwise the uninterrupted weights and losses', async () => {
  const root = tempDir();
  const straightDir = join(root, 'straight');
  const t0 = performance.now();
  const straight = spawnSync(process.execPath, [MAIN, 'train', job(straightDir), '--progress', 'lines'], { cwd: straightDir, encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(straight.status, 0, straight.stderr);
  const want = outcome(join(straightDir, 'out'));

  const dir = join(root, 'killed');
  const child = spawn(process.execPath, [MAIN, 'train', job(dir), '--progress', 'lines'], { cwd: dir, stdio: 'ignore' });
  let exited = false;
  const exit = new Promise<void>((r) => child.on('exit', () => r(void (exited = true))));
  // Once the first checkpoint exists, wait a random part of the rest of an uninterrupted run, then kill.
  const checkpoints = join(dir, 'out', 'checkpoints');
  const deadline = Date.now() + 60_000;
  while (!(existsSync(checkpoints) && readdirSync(checkpoints).some((f) => f.endsWith('.ckpt'))) && !exited) {
    assert.ok(Date.now() < deadline, 'no checkpoint within 60 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  const delayMs = Math.round(Math.random() * seconds * 600);
  await new Promise((r) => setTimeout(r, delayMs));
  const killedEarly = !exited;
  child.kill('SIGKILL');
  await exit;
  const context = `killed ${delayMs} ms after the first checkpoint (uninterrupted run: ${seconds.toFixed(1)} s)${killedEarly ? '' : ', but the run had already ended'}`;

  const resumed = spawnSync(process.execPath, [MAIN, 'train', job(dir), '--resume', '--progress', 'lines'], { cwd: dir, encoding: 'utf8' });
  assert.equal(resumed.status, 0, `${context}\n${resumed.stderr}`);
  const got = outcome(join(dir, 'out'));
  assert.deepEqual(got.models, want.models, context);
  for (const [name, bytes] of Object.entries(want.weights)) assert.ok(bytes.equals(got.weights[name]), `${context}: ${name}'s weights differ`);
  assert.ok(!existsSync(join(dir, 'out', '.hydra-lock')), 'the lock is released');
  const stray = readdirSync(checkpoints).filter((f) => f.includes('.tmp-'));
  assert.deepEqual(stray, [], `${context}: temp files left`);
});
