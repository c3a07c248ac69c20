/**
 * A device worker that dies after it reported ready must not leave the job waiting: the task it held and every later
 * one are rejected with an error that names the device, and stop() still returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevices } from '../../src/hydra/run/device-pool.js';
import { parseDevices } from '../../src/hydra/run/device-spec.js';

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
