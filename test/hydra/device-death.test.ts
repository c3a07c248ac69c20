/**
 * A device worker that dies after it reported ready must not leave the job waiting: the task it held and every later
 * one are rejected with an error that names the device, and stop() still returns. A model whose latest steps were
 * on that device only (device-resident optimizer state) fails, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevices } from '../../src/hydra/run/device-pool.js';
import { parseDevices } from '../../src/hydra/run/device-spec.js';
import { train } from '../../src/hydra/job/train.js';
import { tinyTask } from './helpers.js';
import './fixtures/crash-family.js';

const task = { kind: 'F' as const, shard: 0, step: 0 };

test('a device worker that exits after ready rejects its pending and later tasks, naming the device', async () => {
  const [dev] = await startDevices(parseDevices('js:1'), 1 << 20, false);
  assert.equal(dev.dead, null);
  // The worker closes its port on shutdown; a task sent after it is never read — the worker is gone, not busy.
  dev.send({ type: 'shutdown' });
  const pending = dev.run('m', task, 0, null);
  await assert.rejects(pending, /device 0 \(js\) exited unexpectedly \(exit code 0\)/);
  assert.match(dev.dead!.message, /exited unexpectedly/);
  await assert.rejects(dev.run('m', task, 0, null), /device 0 \(js\) exited unexpectedly/);
  await dev.stop();
});

test('a device worker that reports a fatal error rejects every later task and stops at once', async () => {
  const [dev] = await startDevices(parseDevices('js:1'), 1 << 20, false);
  dev.send({ type: 'register', modelId: 'bad', arch: { family: 'no-such-family', config: {} }, shards: [], recipe: {}, B: 1, T: 1, buffers: {} } as never);
  await assert.rejects(dev.run('bad', task, 0, null), /device 0: registering model 'bad' failed/);
  assert.match(dev.dead!.message, /registering model 'bad' failed/);
  await dev.stop();
});

test('train(): a finished model whose latest steps died with their device ends failed, naming it, not done with older weights', async () => {
  // One device, the models taken in turn: 'finished' ends at step 2 with its last step's state on the device (stepped
  // there), then 'crashing' kills the device at its step 4, before anything wrote that state back.
  const mlp = (family: string, config: Record<string, unknown>) => ({ family, config: { preset: 'small', ...config } });
  const finished = tinyTask('finished', { model: mlp('test-mlp', {}), clipNorm: 0, steps: 2 });
  const crashing = tinyTask('crashing', { model: mlp('test-crash', { crash_at_step: 4 }), clipNorm: 0, steps: 6 });
  const r = await train([finished, crashing], { devices: 'js:1', deviceMemory: 64 << 20, planDir: null, policy: 'round-robin', overlapSetUp: false });
  const [f, c] = r.models;
  assert.ok(r.shardCache!.deviceSteps > 0, 'steps were taken on the device');
  assert.deepEqual(f.losses.length, 2, 'it trained to its end');
  assert.equal(c.status, 'failed');
  assert.match(c.reason!, /device 0 \(js\) exited unexpectedly/);
  assert.equal(f.status, 'failed', `${f.name}: ${f.status} ${f.reason ?? ''}`);
  assert.match(f.reason!, /its latest steps were on device 0 only, which died \(device 0 \(js\) exited unexpectedly \(exit code 1\)\): they are lost/);
});
