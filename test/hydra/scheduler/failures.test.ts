import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POLICY_NAMES, Scheduler, type SchedulerEvent } from '../../../src/hydra/scheduler/index.js';
import { drive, expectedSequence, label, mixedModels, uniformModel } from './drive.js';

for (const policy of POLICY_NAMES) {
  test(`${policy}: a failed model's remaining work is dropped and the others finish`, () => {
    const models = mixedModels();
    const events: SchedulerEvent[] = [];
    const run = drive(models, 3, {
      policy,
      onEvent: (e) => events.push(e),
      // 'a' diverges when its FL of step 1 completes (while not in flight); 'd' fails while one of its tasks runs.
      onComplete: (t, s, now) => {
        if (t.modelId === 'a' && t.kind === 'FL' && t.minibatch === 1) return s.fail('a', 'loss became NaN', now);
        if (t.modelId === 'b' && t.minibatch === 2 && s.runningTask(0)?.modelId === 'd') return s.fail('d', 'worker crashed', now);
      },
    });
    const ranA = run.log.filter((e) => e.task.modelId === 'a').map((e) => label(e.task));
    assert.deepEqual(ranA, expectedSequence(models[0]).slice(0, ranA.length));
    assert.equal(ranA[ranA.length - 1], 'FL2@1', 'nothing of a runs after its failure');
    for (const m of models.filter((x) => x.id !== 'a' && x.id !== 'd')) {
      assert.equal(run.log.filter((e) => e.task.modelId === m.id).length, expectedSequence(m).length, `${m.id} finished`);
    }
    const pa = run.sched.modelProgress('a');
    assert.equal(pa.status, 'failed');
    assert.equal(pa.reason, 'loss became NaN');
    const failed = events.find((e) => e.type === 'model-failed' && e.modelId === 'a');
    assert.ok(failed && failed.type === 'model-failed' && failed.droppedTasks === expectedSequence(models[0]).length - ranA.length);
    assert.ok(run.sched.isDone());
  });
}

test('failing a model whose task is in flight: the task completes, its measurement is ignored, nothing more runs', () => {
  const s = new Scheduler([uniformModel('a', 2, 3), uniformModel('b', 2, 1)], 1);
  const t = s.assign(0, 0)!;
  assert.equal(t.modelId, 'a');
  s.fail('a', 'boom', 0.5);
  assert.equal(s.modelDone('a'), false, 'still has a task in flight');
  assert.equal(s.isDone(), false);
  const idle = s.complete(t, 1e9, 1);
  assert.deepEqual(idle, [0]);
  assert.equal(s.modelDone('a'), true);
  assert.equal(s.remainingSeconds('a'), 0);
  const next = s.assign(0, 1)!;
  assert.equal(next.modelId, 'b');
});

test('no device is lost: every completion reports every idle device, including ones that found nothing before', () => {
  // Pipeline pins shard 1 of 'a' to device 1: device 1 gets nothing at first, and must be offered work again later.
  const s = new Scheduler([uniformModel('a', 2, 1)], 2, { policy: 'pipeline' });
  assert.equal(s.assign(1, 0), null);
  const f0 = s.assign(0, 0)!;
  assert.equal(label(f0), 'F0@0');
  const idle = s.complete(f0, 1, 1);
  assert.deepEqual(idle, [0, 1]);
  assert.equal(s.assign(0, 1), null);
  assert.equal(label(s.assign(1, 1)!), 'FL1@0');
});

test('no device is lost: the idle list returned by complete and fail is exactly the set of devices without a task', () => {
  for (const policy of POLICY_NAMES) {
    const models = mixedModels();
    let checks = 0;
    drive(models, 6, {
      policy,
      onComplete: (t, s, now) => {
        const idle = t.modelId === 'c' && t.kind === 'FL' ? s.fail('d', 'x', now) : s.idleDevices(t.device);
        const truth = [0, 1, 2, 3, 4, 5].filter((d) => s.runningTask(d) === null);
        assert.deepEqual([...idle].sort(), truth, policy);
        checks++;
        return idle;
      },
    });
    assert.ok(checks > 10);
  }
});

test('fail: an unknown model is an error; failing twice is harmless; failing a finished model drops nothing', () => {
  const s = new Scheduler([uniformModel('a', 1, 1)], 1);
  assert.throws(() => s.fail('zzz', 'x'), /unknown model 'zzz'/);
  const t = s.assign(0, 0)!;
  s.complete(t, 1, 1);
  const events: SchedulerEvent[] = [];
  s.on((e) => events.push(e));
  s.fail('a', 'diverged at the last step');
  s.fail('a', 'again');
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'model-failed' && events[0].droppedTasks === 0);
  assert.equal(s.modelProgress('a').status, 'failed');
  assert.ok(s.isDone());
});
