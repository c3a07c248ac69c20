import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../../src/config/errors.js';
import { prepareOutDir, validateOutDir } from '../../src/io/out-dir.js';
import { tempDir } from '../config/fixtures.js';

const OUT_DIR_JS = new URL('../../src/io/out-dir.js', import.meta.url).pathname;

function refused(dir: string, pattern: RegExp, field = 'out_dir'): void {
  const t0 = performance.now();
  assert.throws(() => prepareOutDir(dir, field), (e: unknown) => e instanceof ConfigError && e.path === field && pattern.test(e.message), dir);
  assert.ok(performance.now() - t0 < 1000, `${dir}: refused within a second`);
}

test('out_dir under /proc, /sys or /dev is refused at once, naming the pseudo file system', () => {
  refused('/proc/hydra-out', /\/proc\/hydra-out: is under \/proc, a kernel pseudo file system/);
  refused('/proc/self/fd/x/y', /is under \/proc/);
  refused('/sys/kernel/out', /is under \/sys/, '--out');
  refused('/dev/shm/../null/x', /is under \/dev/);
});

test('a symbolic link into /proc is followed and refused', () => {
  const dir = tempDir();
  const link = join(dir, 'link');
  spawnSync('ln', ['-s', '/proc/self', link]);
  refused(join(link, 'out'), /resolves to \/proc\/\d+, under \/proc/);
});

test('a file where out_dir (or one of its parents) should be is named', () => {
  const dir = tempDir();
  const file = join(dir, 'taken');
  writeFileSync(file, 'x');
  refused(file, /taken: exists and is a file, not a directory/);
  refused(join(file, 'a', 'b'), new RegExp(`${file} is a file, so the directory cannot be created under it`));
});

test('missing parents are created; an existing directory is accepted', () => {
  const dir = join(tempDir(), 'a', 'b', 'c');
  assert.equal(prepareOutDir(dir), dir);
  assert.ok(statSync(dir).isDirectory());
  assert.equal(prepareOutDir(dir), dir);
  const unmade = join(tempDir(), 'x', 'y');
  assert.equal(validateOutDir(unmade), unmade);
  assert.ok(!existsSync(unmade), 'validation creates nothing');
});

test('a directory this user cannot write to is refused, saying so', () => {
  const dir = tempDir();
  const locked = join(dir, 'ro');
  mkdirSync(locked);
  chmodSync(dir, 0o755);
  chmodSync(locked, 0o555);
  const isRoot = process.getuid?.() === 0;
  // root writes anywhere: check as an unprivileged user (nobody) in a child process.
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { prepareOutDir } from ${JSON.stringify(OUT_DIR_JS)}; for (const d of process.argv.slice(1)) { try { prepareOutDir(d); console.log('ok'); } catch (e) { console.log(e.message); } }`, locked, join(locked, 'sub')],
    { encoding: 'utf8', ...(isRoot ? { uid: 65534, gid: 65534 } : {}) },
  );
  assert.equal(r.status, 0, r.stderr);
  const [own, sub] = r.stdout.trim().split('\n');
  assert.match(own, /ro: the directory is not writable by this user/);
  assert.match(sub, /ro\/sub: its parent .*ro, where it would be created, is not writable by this user/);
});
