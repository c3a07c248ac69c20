/**
 * Issue 16, start-up checks of the cluster commands against real redis-servers: an evicting Redis is refused with
 * the fix; an unreachable one is retried with backoff and then named; a password-protected one works through the
 * URL and its password never appears in any message; a data blob whose hash does not match is refused by workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { RedisServer, freePort, hydra, hydraOk, startWorker, tempDir, writeGrid } from './harness.js';
import { dataKey } from '../../src/cluster/spec.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { redactRedisUrl, checkRedisUrl } from '../../src/cluster/redis.js';

test('a Redis with maxmemory-policy allkeys-lru is refused, saying why and how to fix it', { timeout: 30_000 }, async () => {
  const redis = await RedisServer.start(['--maxmemory-policy', 'allkeys-lru']);
  try {
    const p = hydra(['status', '--queue', redis.url], tempDir());
    assert.equal(await p.exited, 1);
    assert.match(p.out(), /maxmemory-policy 'allkeys-lru'.*lose jobs.*Fix: set 'maxmemory-policy noeviction'/s);
  } finally {
    await redis.kill();
  }
});

test('an unreachable Redis is retried with backoff, then named (without its password)', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const p = hydra(['status', '--queue', `redis://:hunter2@127.0.0.1:${port}/0`, '--redis-attempts', '3'], tempDir());
  assert.equal(await p.exited, 1);
  const out = p.out();
  assert.match(out, /retrying in 0\.5 s \(attempt 1 of 3\)/);
  assert.match(out, /retrying in 1\.0 s \(attempt 2 of 3\)/);
  assert.match(out, new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0 is unreachable: 3 attempts`));
  assert.ok(!out.includes('hunter2'), 'the password must not appear');
});

test('the queue URL can come from HYDRA_QUEUE instead of argv (a password on the command line is visible in ps)', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const p = hydra(['status', '--redis-attempts', '1'], tempDir(), { HYDRA_QUEUE: `redis://:hunter2@127.0.0.1:${port}/0` });
  assert.equal(await p.exited, 1);
  assert.match(p.out(), new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0 is unreachable: 1 attempts`));
  assert.ok(!p.out().includes('hunter2'));
});

test('hydra results checks --out before connecting: a pseudo file system is refused at once, naming the flag', { timeout: 30_000 }, async () => {
  const p = hydra(['results', '--queue', 'redis://127.0.0.1:1/0', '--redis-attempts', '5', '--store', tempDir(), '--out', '/proc/hydra-results'], tempDir());
  assert.equal(await p.exited, 1);
  assert.match(p.out(), /--out: \/proc\/hydra-results: is under \/proc, a kernel pseudo file system/);
  assert.doesNotMatch(p.out(), /retrying/, 'no Redis attempt before the --out check');
});

test('Redis URLs: a password works, a wrong one fails without showing either; bad URLs are named', { timeout: 30_000 }, async () => {
  const redis = await RedisServer.start([], 'pa55:w/rd');
  try {
    const ok = await hydraOk(['status', '--queue', redis.url], tempDir());
    assert.match(ok, /queue: waiting 0/);
    const bad = hydra(['status', '--queue', `redis://:wrong-one@127.0.0.1:${redis.port}/0`, '--redis-attempts', '1'], tempDir());
    assert.equal(await bad.exited, 1);
    assert.match(bad.out(), /redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the credentials in the URL \(WRONGPASS/);
    assert.ok(!bad.out().includes('wrong-one') && !ok.includes('pa55'));
  } finally {
    await redis.kill();
  }
  assert.equal(redactRedisUrl('rediss://user:secret@h:6380/2'), 'rediss://***:***@h:6380/2');
  assert.throws(() => checkRedisUrl('http://h:1'), /--queue: expected a redis:\/\/ or rediss:\/\/ URL, got protocol 'http:'/);
  assert.throws(() => checkRedisUrl('redis://h:1/x'), /the path of a Redis URL is the database number/);
});

test('a worker refuses a data blob whose hash does not match; a store that cannot be written is refused', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const config = writeGrid(dir, { grid: { lr: [1e-2], batch_size: [2] }, steps: 2 });
  const redis = await RedisServer.start();
  const store = join(dir, 'store');
  try {
    await hydraOk(['submit', config, '--queue', redis.url, '--store', store], dir);
    // Corrupt the store's copy of the training data.
    const text = readFileSync(new URL('../../../examples/data/wikitext-tiny-eval.txt', import.meta.url));
    const hash = createHash('sha256').update(text).digest('hex');
    writeFileSync(join(store, ...dataKey(hash).split('/')), 'not the data');
    const w = startWorker(redis, store, dir, 'x');
    const deadline = Date.now() + 40_000;
    while (!/data hash mismatch/.test(w.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    w.child.kill('SIGKILL');
    assert.match(w.out(), new RegExp(`data hash mismatch for data\\.train: the job was submitted with sha256 ${hash}`));

    const ro = join(dir, 'ro');
    writeFileSync(ro, 'a file, not a directory');
    const p = hydra(['worker', '--queue', redis.url, '--store', ro, '--devices', 'cpu:1x1', '--device-memory', '16MiB', '--work-dir', join(dir, 'w')], dir);
    assert.equal(await p.exited, 1);
    assert.match(p.out(), /store .*ro is not writable by worker \d+/);
  } finally {
    await redis.kill();
  }
});
