/**
 * The disk tier under faults and its memory promise, each in a child process (tier/ and fixtures/disk-job.ts):
 *   - a full disk (a file-size limit, RLIMIT_FSIZE, on the child: writes past it fail with EFBIG as on a full disk)
 *     mid-training: the model fails with an error naming the scratch file and the full disk; the checkpoint written
 *     earlier is intact and still resumes;
 *   - kill -9 mid-job leaves scratch files, and the next job using the same spill directory removes them;
 *   - a missing or unwritable spill_dir is refused before anything trains;
 *   - the process's peak RSS stays within host_memory + the device budget + a fixed overhead, for a model whose
 *     state is several times that, over the whole job: checkpoints and the final weights are streamed from the tiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISK_DEVICE_BUDGET } from './disk-tasks.js';

const JOB = new URL('./fixtures/disk-job.js', import.meta.url).pathname;
/** The disk job's host cap: the focus model alone, with most of its shards on disk. */
const CAP = 160_000;
/** Measured: ≈ 57 MiB of RSS beyond the host cap and device budget (Node, a worker, the addon); pinned with margin. */
const FIXED_OVERHEAD = 150 * 1024 ** 2;

type Line = { type: string; message?: string; models?: { name: string; status: string; reason?: string; steps: number; weightsError?: string; placement?: { diskBytes: number; diskGradBytes: number } }[]; peakRssBytes?: number; finalPeakRssBytes?: number; diskTier?: { highWater: number } };

function run(args: object, limitKiB?: number) {
  const cmd = limitKiB === undefined ? [process.execPath, JOB, JSON.stringify(args)] : ['bash', '-c', `trap '' XFSZ; ulimit -f ${limitKiB}; exec "$0" "$@"`, process.execPath, JOB, JSON.stringify(args)];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  return { status: r.status, stderr: r.stderr, lines, last: lines[lines.length - 1] };
}

test('disk full mid-training: the model fails naming the scratch file and the full disk; the earlier checkpoint is intact and resumes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-diskfull-'));
  const base = { spill: dir, hostMemory: CAP, deviceMemory: DISK_DEVICE_BUDGET, checkpointDir: join(dir, 'ckpt'), checkpointEvery: 1, steps: 4 };
  const first = run({ ...base, stopAtStep: 2 });
  assert.equal(first.last.type, 'result', first.stderr);
  const placement = first.last.models![0].placement!;
  const ckpt = join(dir, 'ckpt', 'focus.ckpt');
  const before = readFileSync(ckpt);
  // Room for the values and moments (written when the checkpoint is restored), not for the gradients (the file's
  // last part, first written after a backward): the disk fills mid-step.
  const limit = Math.ceil((placement.diskBytes - placement.diskGradBytes) / 1024) + 1;
  const full = run({ ...base, resume: true }, limit);
  const m = full.last.models?.[0];
  assert.equal(m?.status, 'failed', JSON.stringify(full.last));
  assert.match(m!.reason!, /disk tier: cannot write .*hydra-scratch-\d+-[0-9a-f]+\.spill: EFBIG \(the disk holding spillDir is full\)/);
  assert.equal(m!.steps, 2, 'no step counts whose update did not land');
  assert.ok(readFileSync(ckpt).equals(before), 'the checkpoint written before is untouched');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.spill')), [], 'scratch removed');
  const resumed = run({ ...base, resume: true });
  assert.equal(resumed.last.models?.[0].status, 'done', JSON.stringify(resumed.last));
  assert.equal(resumed.last.models?.[0].steps, 4);
});

test('kill -9 mid-job leaves scratch files; the next job in that spill directory removes them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-kill-'));
  const child = spawn(process.execPath, [JOB, JSON.stringify({ spill: dir, hostMemory: CAP, deviceMemory: DISK_DEVICE_BUDGET, steps: 1000 })], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"type":"step"')) resolve();
    });
    child.once('exit', () => reject(new Error(`the job ended before its first step: ${out}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const left = readdirSync(dir).filter((f) => f.endsWith('.spill'));
  assert.equal(left.length, 1, `scratch left by the killed job: ${left.join(', ')}`);
  assert.match(left[0], new RegExp(`^hydra-scratch-${child.pid}-`));
  const next = run({ spill: dir, hostMemory: CAP, deviceMemory: DISK_DEVICE_BUDGET, steps: 1 });
  assert.ok(next.lines.some((l) => l.type === 'log' && l.message === `removed ${join(dir, left[0])}, scratch left by a job that did not end (crashed or killed)`), JSON.stringify(next.lines.slice(0, 3)));
  assert.equal(next.last.models?.[0].status, 'done');
  assert.deepEqual(readdirSync(dir), [], 'nothing left');
});

test('a missing or unwritable spill_dir is refused before training, naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-nospill-'));
  for (const [spill, why] of [[join(dir, 'missing'), /spillDir: .*missing does not exist/], ['/proc', /spillDir: cannot write in \/proc/]] as const) {
    const r = run({ spill, hostMemory: CAP, deviceMemory: DISK_DEVICE_BUDGET, steps: 1 });
    assert.equal(r.last.type, 'error');
    assert.match(r.last.message!, /^PreflightError: preflight: /);
    assert.match(r.last.message!, why);
    assert.ok(!r.lines.some((l) => l.type === 'step'), 'nothing trained');
  }
});

test('peak RSS over the whole job — training, a checkpoint every step, the final weights saved — stays within host_memory + the device budget + a fixed overhead, for ≈ 400 MB of state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-rss-'));
  const hostMemory = 120e6, deviceMemory = 40e6;
  const r = run({ spill: dir, hostMemory, deviceMemory, steps: 2, model: 'big', checkpointDir: join(dir, 'ckpt'), checkpointEvery: 1, saveDir: join(dir, 'models') });
  assert.equal(r.last.type, 'result', `${r.stderr}\n${JSON.stringify(r.last)}`);
  const m = r.last.models![0];
  assert.equal(m.status, 'done', m.reason);
  assert.equal(m.weightsError, undefined);
  const state = r.last.diskTier!.highWater;
  const bound = hostMemory + deviceMemory + FIXED_OVERHEAD;
  assert.ok(state > bound, `the test needs more state on disk (${state}) than the bound (${bound}) to mean anything`);
  // What was written is the whole model: its checkpoint (values and both moments: held whole beside the host tier, as
  // before streaming, it alone would break the bound) and its weights.
  const ckpt = statSync(join(dir, 'ckpt', 'big.ckpt')).size, weights = statSync(join(dir, 'models', 'big', 'model.safetensors')).size;
  assert.ok(hostMemory + ckpt > bound && weights > 0.2 * state, `checkpoint ${ckpt} B, weights ${weights} B`);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  assert.ok(r.last.peakRssBytes! <= bound, `peak RSS while training ${mib(r.last.peakRssBytes!)} MiB > ${mib(bound)} MiB`);
  assert.ok(r.last.finalPeakRssBytes! <= bound, `peak RSS over the job ${mib(r.last.finalPeakRssBytes!)} MiB > ${mib(bound)} MiB`);
});
