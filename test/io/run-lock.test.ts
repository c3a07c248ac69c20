import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { LOCK_NAME, lockOutDir, OutDirLockedError, takeOverStale } from '../../src/io/run-lock.js';
import { tempDir } from '../config/fixtures.js';

const LOCK_JS = new URL('../../src/io/run-lock.js', import.meta.url).pathname;

test('the lock names its owner; a second taker is refused with the pid and start time; release frees it', () => {
  const dir = tempDir();
  const lock = lockOutDir(dir, 'hydra train a.yaml');
  const owner = JSON.parse(readFileSync(join(dir, LOCK_NAME), 'utf8'));
  assert.equal(owner.pid, process.pid);
  assert.throws(
    () => lockOutDir(dir),
    (e: unknown) => e instanceof OutDirLockedError && e.message.includes(`in use by another hydra run: pid ${process.pid}, started ${owner.startedAt} (hydra train a.yaml)`),
  );
  lock.release();
  lock.release();
  assert.ok(!existsSync(join(dir, LOCK_NAME)));
  lockOutDir(dir).release();
});

test('a lock held by another live process is refused; a dead owner\'s lock (kill -9) is taken over', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { lockOutDir } from ${JSON.stringify(LOCK_JS)}; lockOutDir(process.argv[1]); console.log('locked'); setInterval(() => {}, 1000);`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  assert.throws(() => lockOutDir(dir), (e: unknown) => e instanceof OutDirLockedError && e.owner.pid === child.pid && e.message.includes(`pid ${child.pid}`));
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  assert.ok(existsSync(join(dir, LOCK_NAME)), 'a killed owner leaves its lock');
  const lock = lockOutDir(dir);
  assert.equal(lock.owner.pid, process.pid);
  lock.release();
});

test('a live pid that started after the lock was taken (a reused pid) does not hold it', () => {
  const dir = tempDir();
  // pid 1 is alive, but its start time is not the one recorded.
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid: 1, host: hostname(), startedAt: '2020-01-01T00:00:00Z', processStart: -1 }));
  lockOutDir(dir).release();
  // Without a recorded start time a live pid holds it.
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid: 1, host: hostname(), startedAt: '2020-01-01T00:00:00Z' }));
  assert.throws(() => lockOutDir(dir), /pid 1, started 2020-01-01T00:00:00Z/);
  // Another host's lock is never taken over: the error says which file to remove.
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid: 999999, host: 'elsewhere', startedAt: 'x' }));
  assert.throws(() => lockOutDir(dir), new RegExp(`on host elsewhere \\(if that run is gone, remove ${join(dir, LOCK_NAME)}\\)`));
});

test('the lock is removed when the process exits without releasing it', () => {
  const dir = tempDir();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { lockOutDir } from ${JSON.stringify(LOCK_JS)}; lockOutDir(process.argv[1]); process.exit(3);`, dir]);
  assert.equal(r.status, 3);
  assert.ok(!existsSync(join(dir, LOCK_NAME)));
});

test('taking over a stale lock never steals a live one that replaced it in between (the race of two takers)', () => {
  const dir = tempDir();
  const file = join(dir, LOCK_NAME);
  // Run A read a stale owner; before A renames, run B has already taken over and written its own live lock.
  const stale = { pid: 999999999, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' };
  const live = { pid: process.pid, host: hostname(), startedAt: '2026-11-30T09:00:00.000Z' };
  writeFileSync(file, JSON.stringify(live));
  assert.equal(takeOverStale(file, stale), false, 'A must not take over');
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), live, "B's live lock is back in place");
  // The stale lock itself is taken over.
  writeFileSync(file, JSON.stringify(stale));
  assert.equal(takeOverStale(file, stale), true);
  assert.ok(!existsSync(file));
});
