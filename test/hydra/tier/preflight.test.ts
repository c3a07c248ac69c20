/** The preflight (tier/preflight.ts) refuses what cannot run before anything trains, naming the numbers and the fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSpillDir, preflight, PreflightError } from '../../../src/hydra/tier/preflight.js';
import { readCgroupLimit } from '../../../src/hydra/tier/physical-memory.js';
import { inConfigWords } from '../../../src/config/config-words.js';

const GiB = 1024 ** 3;
const ram = { bytes: 16 * GiB, totalmem: 32 * GiB, cgroupLimit: 16 * GiB };
const ok = { hostBytes: 2 * GiB, hostFloor: GiB, diskBytes: 0, hostCap: 4 * GiB, hostCapGiven: true, ram };

test('preflight: a plan within the cap, RAM and disk passes', () => {
  preflight(ok);
  preflight({ ...ok, diskBytes: 10 * GiB, spillDir: '/x', diskFree: 11 * GiB });
});

test('preflight: hostMemory above the RAM this process may use (cgroup limit) is refused, naming both', () => {
  assert.throws(() => preflight({ ...ok, hostCap: 20 * GiB, hostBytes: 18 * GiB }), (e: Error) =>
    e instanceof PreflightError && /hostMemory is 20\.0 GiB/.test(e.message) && /16\.0 GiB \(the cgroup limit; the machine has 32\.0 GiB\)/.test(e.message) && /Lower hostMemory/.test(e.message));
});

test('preflight: more than the cap even with everything movable on disk is refused', () => {
  assert.throws(() => preflight({ ...ok, hostFloor: 5 * GiB }), /needs at least 5\.0 GiB in RAM.*hostMemory 4\.0 GiB.*Raise hostMemory.*lower the batch \(task\.train\.B\) or the sequence length \(task\.train\.T\)/);
});

test('preflight: scratch larger than the free disk at spillDir is refused, naming both and the fixes', () => {
  assert.throws(() => preflight({ ...ok, diskBytes: 30 * GiB, spillDir: '/spill', diskFree: 20 * GiB }), /30\.0 GiB of state on disk at spillDir \/spill, which has 20\.0 GiB free.*point spillDir at a larger disk, or raise hostMemory/);
});

test('spillDir: missing, not a directory, or not writable is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-spill-'));
  assert.throws(() => ensureSpillDir(join(dir, 'nope'), false), /spillDir: .*nope does not exist/);
  writeFileSync(join(dir, 'file'), '');
  assert.throws(() => ensureSpillDir(join(dir, 'file'), false), /is not a directory/);
  assert.throws(() => ensureSpillDir('/proc', false), /spillDir: cannot write in \/proc/);
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

test('preflight messages speak the API (hostMemory, spillDir), never YAML keys; the CLI shows them in the config\'s words', () => {
  const messages: string[] = [];
  const refuse = (f: () => void) => assert.throws(f, (e: Error) => (messages.push(e.message), e instanceof PreflightError));
  refuse(() => preflight({ ...ok, hostCap: 20 * GiB, hostBytes: 18 * GiB }));
  refuse(() => preflight({ ...ok, hostFloor: 5 * GiB }));
  refuse(() => preflight({ ...ok, diskBytes: 30 * GiB, spillDir: '/spill', diskFree: 20 * GiB }));
  refuse(() => preflight({ ...ok, diskBytes: GiB }));
  refuse(() => ensureSpillDir('/proc', false));
  for (const m of messages) assert.doesNotMatch(m, /host_memory|spill_dir|device_memory|batch_size|block_size/, m);
  const shown = messages.map(inConfigWords);
  assert.match(shown[1], /more than host_memory 4\.0 GiB.*Raise host_memory, train fewer models at once, or lower the batch_size or the block_size\./);
  assert.match(shown[2], /at spill_dir \/spill.*point spill_dir at a larger disk, or raise host_memory/);
  assert.match(shown[3], /no spill_dir is set/);
  assert.match(shown[4], /^preflight: spill_dir: cannot write in \/proc/);
  for (const m of shown) assert.doesNotMatch(m, /hostMemory|spillDir/, m);
});
