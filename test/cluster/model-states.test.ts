/**
 * The models' progress hash moves forward only (src/cluster/model-states.ts): a segment the queue ran again after its
 * commit (its lock lost while Redis restarted) must not set a finished model back to 'queued' at an earlier step —
 * the "Redis restarted mid-job" test once waited forever on exactly that.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { publishStates } from '../../src/cluster/model-states.js';
import type { ClusterJobSpec } from '../../src/cluster/spec.js';
import { RedisServer } from './harness.js';
import { modelStates } from './wait.js';

test('model states: forward updates are written, a replayed segment\'s older update is dropped', async () => {
  const server = await RedisServer.start();
  const redis = new Redis(server.url, { lazyConnect: true });
  try {
    await redis.connect();
    const spec = { name: 'job', models: [{ name: 'a', totalSteps: 6 }, { name: 'b', totalSteps: 6 }] } as unknown as ClusterJobSpec;
    assert.equal(await publishStates(redis, spec, [['a', { step: 0, state: 'queued' }], ['b', { step: 0, state: 'queued' }]]), 0);
    assert.equal(await publishStates(redis, spec, [['a', { step: 0, state: 'running', worker: 'w1' }]]), 0, 'same step: written');
    assert.equal(await publishStates(redis, spec, [['a', { step: 2, state: 'queued' }], ['b', { step: 4, state: 'queued' }]]), 0);
    assert.equal(await publishStates(redis, spec, [['a', { step: 6, state: 'done', worker: 'w2' }]]), 0);
    // The retried segment 0 of `a` replays (commit found, nothing trained) and of `b` starts running again at step 0.
    assert.equal(await publishStates(redis, spec, [['a', { step: 2, state: 'queued' }], ['b', { step: 0, state: 'running', worker: 'w1' }]]), 2);
    const states = await modelStates(server.url, 'job');
    assert.deepEqual(states.get('a'), { step: 6, state: 'done', worker: 'w2', total: 6 });
    assert.deepEqual(states.get('b'), { step: 4, state: 'queued', total: 6 });
    assert.equal(await publishStates(redis, spec, [['b', { step: 4, state: 'failed', reason: 'out of attempts' }]]), 0, 'a final state at the same step is written');
    assert.equal(await publishStates(redis, spec, [['b', { step: 6, state: 'queued' }]]), 1, 'nothing moves a model out of a final state');
  } finally {
    redis.disconnect();
    await server.kill();
  }
});
