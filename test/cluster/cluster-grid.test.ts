/**
 * Issue 16, must show, with a real Redis and real worker processes, against one single-machine `hydra train` of the
 * same 6-model config (one-thread cpu devices on both sides):
 *   - 3 workers: every model's final weights bitwise equal, same losses, every step exactly once in the events;
 *   - chaos: a random worker SIGKILLed every few seconds and a new one started: every model finishes, no step is
 *     applied twice (the store's checkpoints and the events), weights bitwise equal;
 *   - Redis SIGKILLed and restarted (AOF on) mid-job: the workers reconnect and the job completes, bitwise equal.
 * The chaos loop's length is CHAOS_KILLS (default 4 here; `npm run test:cluster` runs a longer one).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelCheckpoint } from '../../src/index.js';
import { checkpointKey } from '../../src/cluster/spec.js';
import { RedisServer, hydraOk, sleep, startWorker, tempDir, weightsOf, writeGrid, type Proc } from './harness.js';
import { modelStates, waitAllDone } from './wait.js';

const dir = tempDir();
const config = writeGrid(dir);
let single: { models: { name: string; losses: number[] }[] };
let names: string[];
const SECRET = 'pw-never-logged-7c1';

before(async () => {
  await hydraOk(['train', config, '--progress', 'lines'], dir);
  single = JSON.parse(readFileSync(join(dir, 'single', 'results.json'), 'utf8')) as typeof single;
  names = single.models.map((m) => m.name);
});

type Event = { type: string; model?: string; step?: number };

/** Results of the cluster run (via `hydra results`) are bitwise the single-machine run's, each step once. */
async function assertSameAsSingle(redis: RedisServer, store: string, out: string): Promise<void> {
  await hydraOk(['results', '--queue', redis.url, '--store', store, '--out', out], dir);
  const want = weightsOf(join(dir, 'single'), names);
  const got = weightsOf(out, names);
  assert.equal(want.size, 6);
  for (const n of names) assert.ok(got.get(n)?.equals(want.get(n)!), `${n}: cluster weights differ from the single-machine run`);
  const cluster = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as typeof single;
  for (const m of single.models) assert.deepEqual(cluster.models.find((x) => x.name === m.name)?.losses, m.losses, `${m.name}: losses`);
  const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Event);
  for (const n of names) {
    assert.deepEqual(events.filter((e) => e.type === 'step' && e.model === n).map((e) => e.step), [0, 1, 2, 3, 4, 5], `${n}: every step exactly once in the events`);
  }
}

/** Exactly once, from the store: a checkpoint at each segment end and nowhere else, each holding exactly its steps. */
async function assertCheckpointsExactlyOnce(store: string): Promise<void> {
  const spec = JSON.parse(readFileSync(join(store, 'jobs', 'cgrid', 'spec.json'), 'utf8')) as { models: { name: string; safe: string }[] };
  for (const m of spec.models) {
    const want = single.models.find((x) => x.name === m.name)!.losses;
    for (const step of [2, 4, 6]) {
      const ck = await loadModelCheckpoint(join(store, ...checkpointKey('cgrid', m.safe, step).split('/')));
      assert.equal(ck.meta.step, step);
      assert.deepEqual(ck.meta.progress?.losses, want.slice(0, step), `${m.name}: the checkpoint at step ${step} holds exactly steps 0..${step - 1}`);
    }
  }
}

test('3 workers × 6-model grid: weights bitwise equal to single-machine hydra train; the password is never logged', { timeout: 120_000 }, async () => {
  const redis = await RedisServer.start([], SECRET);
  const store = join(dir, 'store-grid');
  const workers = ['a', 'b', 'c'].map((n) => startWorker(redis, store, dir, n, ['--models', '2']));
  let submitted = '';
  try {
    submitted = await hydraOk(['submit', config, '--queue', redis.url, '--store', store], dir);
    await waitAllDone(redis.url, 'cgrid', 90_000, () => workers.map((w) => w.out()).join('\n---\n'));
    const status = await hydraOk(['status', '--queue', redis.url], dir);
    assert.match(status, /job cgrid .*: 6\/6 models done/);
    await assertSameAsSingle(redis, store, join(dir, 'out-grid'));
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await redis.kill();
  }
  assert.ok(workers.filter((w) => /training /.test(w.out())).length >= 2, 'segments were spread over the workers');
  for (const text of [submitted, ...workers.map((w) => w.out()), readFileSync(join(dir, 'out-grid', 'results.json'), 'utf8')]) {
    assert.ok(!text.includes(SECRET), 'the Redis password appears in an output');
  }
});

test('chaos: a random worker SIGKILLed every few seconds, a new one started: all finish, no step twice, bitwise', { timeout: 240_000 }, async () => {
  const kills = Number(process.env.CHAOS_KILLS ?? 4);
  const redis = await RedisServer.start();
  const store = join(dir, 'store-chaos');
  let n = 0;
  const live: Proc[] = [0, 1, 2].map(() => startWorker(redis, store, dir, `chaos${n++}`));
  const all = [...live];
  try {
    await hydraOk(['submit', config, '--queue', redis.url, '--store', store], dir);
    let killed = 0;
    while (killed < kills) {
      await sleep(2000 + Math.random() * 2000);
      const states = await modelStates(redis.url, 'cgrid');
      if ([...states.values()].every((s) => s.state === 'done')) break;
      const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0];
      victim.child.kill('SIGKILL');
      killed++;
      const fresh = startWorker(redis, store, dir, `chaos${n++}`);
      live.push(fresh);
      all.push(fresh);
    }
    await waitAllDone(redis.url, 'cgrid', 120_000, () => all.map((w) => w.out()).join('\n---\n'));
    await assertCheckpointsExactlyOnce(store);
    await assertSameAsSingle(redis, store, join(dir, 'out-chaos'));
  } finally {
    for (const w of all) w.child.kill('SIGKILL');
    await redis.kill();
  }
});

test('Redis SIGKILLed and restarted mid-job (AOF on): workers reconnect and the job completes, bitwise', { timeout: 180_000 }, async () => {
  const redis = await RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always']);
  const store = join(dir, 'store-restart');
  const workers = ['r1', 'r2'].map((w) => startWorker(redis, store, dir, w));
  try {
    await hydraOk(['submit', config, '--queue', redis.url, '--store', store], dir);
    // Wait until some segment has been committed, so that the restart really is mid-job.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && ![...(await modelStates(redis.url, 'cgrid')).values()].some((s) => s.step > 0)) await sleep(200);
    await redis.kill();
    await sleep(1500);
    await redis.launch();
    await waitAllDone(redis.url, 'cgrid', 120_000, () => workers.map((w) => w.out()).join('\n---\n'));
    assert.ok(workers.some((w) => /redis: reconnected/.test(w.out())), 'a worker says it reconnected');
    await assertCheckpointsExactlyOnce(store);
    await assertSameAsSingle(redis, store, join(dir, 'out-restart'));
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await redis.kill();
  }
});
