/** The preflight (tier/preflight.ts) refuses what cannot run before anything trains, naming the numbers and the fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSpillDir, preflight, PreflightError } from '../../../src/hydra/tier/preflight.js';
import { readCgroupLimit } from '../../../src/hydra/tier/physical-memory.js';

const GiB = 1024 ** 3;
const ram = { bytes: 16 * GiB, totalmem: 32 * GiB, cgroupLimit: 16 * GiB };
const ok = { hostBytes: 2 * GiB, hostFloor: GiB, diskBytes: 0, hostCap: 4 * GiB, hostCapGiven: true, ram };

test('preflight: a plan within the cap, RAM and disk passes', () => {
  preflight(ok);
  preflight({ ...ok, diskBytes: 10 * GiB, spillDir: '/x', diskFree: 11 * GiB });
});

test('preflight: host_memory above the RAM this process may use (cgroup limit) is refused, naming both', () => {
  assert.throws(() => preflight({ ...ok, hostCap: 20 * GiB, hostBytes: 18 * GiB }), (e: Error) =>
    e instanceof PreflightError && /host_memory is 20\.0 GiB/.test(e.message) && /16\.0 GiB \(the cgroup limit; the machine has 32\.0 GiB\)/.test(e.message) && /Lower host_memory/.test(e.message));
});

test('preflight: more than the cap even with everything movable on disk is refused', () => {
  assert.throws(() => preflight({ ...ok, hostFloor: 5 * GiB }), /needs at least 5\.0 GiB in RAM.*host_memory 4\.0 GiB.*Raise host_memory/);
});

test('preflight: scratch larger than the free disk at spill_dir is refused, naming both and the fixes', () => {
  assert.throws(() => preflight({ ...ok, diskBytes: 30 * GiB, spillDir: '/spill', diskFree: 20 * GiB }), /30\.0 GiB of state on disk at spill_dir \/spill, which has 20\.0 GiB free.*raise host_memory/);
});

test('spill_dir: missing, not a directory, or not writable is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-spill-'));
  assert.throws(() => ensureSpillDir(join(dir, 'nope'), false), /spill_dir: .*nope does not exist/);
  writeFileSync(join(dir, 'file'), '');
  assert.throws(() => ensureSpillDir(join(dir, 'file'), false), /is not a directory/);
  assert.throws(() => ensureSpillDir('/proc', false), /spill_dir: cannot write in \/proc/);
  ensureSpillDir(join(dir, 'made'), true);
  ensureSpillDir(join(dir, 'made'), false);
});

test('cgroup limit: a number is the limit; max, absent or v1\'s "unlimited" are none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-cg-'));
  const f = (text: string) => (writeFileSync(join(dir, 'm'), text), readCgroupLimit([join(dir, 'm')]));
  assert.equal(f('8589934592\n'), 8 * GiB);
  assert.equal(f('max\n'), undefined);
  assert.equal(f('9223372036854771712'), undefined);
  assert.equal(readCgroupLimit([join(dir, 'absent')]), undefined);
});
