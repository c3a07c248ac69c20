import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../src/sim/engine.js';
import { POLICY_NAMES } from '../../src/hydra/scheduler/types.js';
import { simModel, work, workload } from './helpers.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('one device: the makespan is the sum of all work (every policy), divided by its speed', () => {
  const models = [simModel('a', 3, 2, 1), simModel('b', 1, 4, 0.5), simModel('c', 2, 3, 2)];
  const total = models.reduce((a, m) => a + work(m), 0);
  for (const policy of POLICY_NAMES) {
    close(simulate(workload(models, [1]), { policy }).makespan, total, policy);
    close(simulate(workload(models, [2]), { policy }).makespan, total / 2, `${policy} at speed 2`);
  }
});

test('dispatch seconds: one device takes the sum of its tasks\' measured seconds plus one dispatch per task (every policy)', () => {
  // Measured seconds (what bench:grid calibrates from real tasks) differ from the scheduler's estimates on purpose.
  const measured = (m: ReturnType<typeof simModel>, f: number) => ({ ...m, shards: m.shards.map((s) => ({ ...s, seconds: { F: f, FL: 2 * f, B: 5 * f } })) });
  const models = [measured(simModel('a', 3, 2, 1), 0.25), measured(simModel('b', 1, 4, 0.5), 0.75)];
  // Tasks and their measured seconds: a runs F0 F1 FL2 B1 B0 per step (2 steps), b one FL0 per step (4 steps).
  const tasks = 2 * 5 + 4, seconds = 2 * (0.25 * (1 + 1 + 2 + 5 + 5)) + 4 * (2 * 0.75);
  for (const policy of POLICY_NAMES) {
    const r = simulate({ ...workload(models, [1]), dispatchSeconds: 0.1 }, { policy });
    assert.equal(r.tasks, tasks);
    close(r.makespan, seconds + tasks * 0.1, policy);
    close(r.devices[0].busySeconds, seconds, `${policy}: dispatch is not compute`);
    close(r.transfers.stallSeconds, 0, `${policy}: nor a stall`);
  }
  assert.throws(() => simulate({ ...workload(models, [1]), dispatchSeconds: -1 }), /dispatchSeconds: expected a finite number of seconds ≥ 0, got -1/);
});

test('shared bandwidth: a serial copy that starts while the other device computes runs at sharedBandwidth, one beside an idle device at bandwidth', () => {
  // One-shard models stepped on the host copy their parameters (1 s at `bandwidth`) before every FL. model-lrtf puts
  // b (FL 6 s) on device 0 and a (FL 3 s) on device 1; both first copies start with nobody computing, every later one
  // while the other device computes.
  const models = [simModel('a', 1, 2, 1, 100), simModel('b', 1, 2, 2, 100)];
  const base = { ...workload(models, [1, 1], 100), stepOn: 'host' as const };
  const plain = simulate(base, { policy: 'model-lrtf', prefetch: false });
  close(plain.makespan, 1 + 6 + 1 + 6, 'without sharedBandwidth: every copy 1 s');
  close(plain.transfers.stallSeconds, 4, 'four 1 s copies');
  const shared = simulate({ ...base, sharedBandwidth: 50 }, { policy: 'model-lrtf', prefetch: false });
  // Device 1: copy 0–1, FL 1–4, copy 4–6 (device 0 computes 1–7), FL 6–9. Device 0: copy 0–1, FL 1–7, copy 7–9
  // (device 1 computes 6–9), FL 9–15.
  close(shared.makespan, 15, 'the second copies take 2 s');
  close(shared.transfers.stallSeconds, 1 + 2 + 1 + 2, 'stalls');
  assert.throws(() => simulate({ ...base, sharedBandwidth: 0 }), /sharedBandwidth: expected a positive number of bytes per second \(or Infinity\), got 0/);
});

test('perfect splits: D equal models on D devices take one model\'s time; 2D models take twice that', () => {
  for (const D of [2, 4, 8]) {
    const one = simModel('x', 3, 2);
    const models = (k: number) => Array.from({ length: k }, (_, i) => ({ ...one, id: `m${i}` }));
    const r1 = simulate(workload(models(D), new Array(D).fill(1)));
    close(r1.makespan, work(one), `${D} models on ${D} devices`);
    close(r1.utilisation, 1, 'utilisation');
    close(simulate(workload(models(2 * D), new Array(D).fill(1))).makespan, 2 * work(one), `${2 * D} models on ${D} devices`);
  }
});

test('fewer models than devices: at most one task per model in flight bounds the speed-up', () => {
  const models = Array.from({ length: 2 }, (_, i) => simModel(`m${i}`, 4, 3));
  const r = simulate(workload(models, [1, 1, 1, 1]));
  close(r.makespan, work(models[0]), 'two models cannot use four devices');
  assert.ok(r.utilisation <= 0.5 + 1e-9);
});

test('transfers: serial without prefetch; overlapped with compute when the peek hint is right; B0 finds shard 0 cached', () => {
  // One model, two shards of 1e9 bytes at 1e9 B/s (1 s per copy), one step: F0 (1 s), FL1 (3 s), B0 (3 s).
  const w = workload([simModel('a', 2, 1, 1, 1e9)], [1], 1e9);
  const serial = simulate(w, { prefetch: false });
  close(serial.makespan, 7 + 2, 'two serial copies: B0 reuses the copy F0 left on the device');
  assert.equal(serial.transfers.serial, 2);
  assert.equal(serial.transfers.resident, 1);
  const overlapped = simulate(w);
  close(overlapped.makespan, 7 + 1, 'only the first copy is exposed');
  assert.equal(overlapped.transfers.prefetchHits, 1);
  assert.equal(overlapped.transfers.resident, 1);
  close(overlapped.transfers.stallSeconds, 1, 'stall');
  // With too little memory to keep shard 0 beside FL1's peak (or to prefetch), it is evicted and B0 copies again.
  const tight = workload([simModel('a', 2, 1, 1, 1e9, { shards: [0, 1].map(() => ({ F: 1, FL: 3, B: 3, E: 1, paramBytes: 1e9, peakBytes: 2e9 })) })], [1], 1e9, 2.9e9);
  const t = simulate(tight);
  assert.equal(t.transfers.resident, 0);
  assert.equal(t.transfers.evictions, 2, 'FL1 evicts shard 0, B0 evicts shard 1');
  close(t.makespan, 7 + 3, 'three serial copies');
});

test('stepOn host: a stepped shard is stale on the device (the executor today); task bytes are serial copies', () => {
  const m = simModel('a', 1, 5, 1, 1e9);
  const host = simulate({ ...workload([m], [1], 1e9), stepOn: 'host' });
  assert.equal(host.transfers.resident, 0);
  close(host.makespan, 5 + 15, 'a copy before every FL0 (the previous step changed the host copy)');
  const io = simulate(workload([{ ...m, shards: [{ ...m.shards[0], taskBytes: { FL: 5e8 } }] }], [1], 1e9));
  close(io.makespan, 1 + 15 + 5 * 0.5, 'half a second of other copies per task');
  close(io.transfers.taskBytes, 5 * 5e8, 'task bytes');
});

test('prefetch needs memory for the running shard and the next one', () => {
  const m = simModel('a', 2, 1, 1, 1e9);
  m.shards.forEach((s) => (s.peakBytes = 3e9));
  close(simulate(workload([m], [1], 1e9, 3.5e9)).makespan, 10, 'no room: serial');
  close(simulate(workload([m], [1], 1e9, 4e9)).makespan, 8, 'room for both: overlapped');
});

test('a one-shard model stays resident on its device between steps', () => {
  const r = simulate(workload([simModel('a', 1, 5, 1, 1e9)], [1], 1e9));
  assert.equal(r.transfers.resident, 4);
  close(r.makespan, 1 + 15, 'one copy, five FL0 tasks');
});

test('a diverging model stops after the failing step; the others finish', () => {
  const models = [simModel('a', 2, 10), simModel('b', 2, 10), simModel('c', 1, 10)];
  const r = simulate(workload(models, [1, 1]), { failures: { a: 3 } });
  const a = r.models.find((m) => m.id === 'a')!;
  assert.equal(a.status, 'failed');
  assert.match(a.reason!, /step 3/);
  assert.deepEqual(r.models.filter((m) => m.status === 'done').map((m) => m.id), ['b', 'c']);
  assert.equal(r.tasks, 3 * 3 + 2 + 10 * 3 + 10, 'a ran steps 0-2 fully and F0, FL1 of step 3');
  assert.throws(() => simulate(workload(models, [1]), { failures: { zz: 1 } }), /failures: unknown model 'zz'/);
});

test('noise is deterministic in the seed, and pilot errors are refined away', () => {
  const models = Array.from({ length: 6 }, (_, i) => simModel(`m${i}`, 3, 8, 1 + i / 4));
  const w = workload(models, [1, 1, 1]);
  assert.equal(simulate(w, { noise: 0.3, seed: 5 }).makespan, simulate(w, { noise: 0.3, seed: 5 }).makespan);
  assert.notEqual(simulate(w, { noise: 0.3, seed: 5 }).makespan, simulate(w, { noise: 0.3, seed: 6 }).makespan);
  const refined = simulate(w, { pilotError: 0.8, seed: 1 }).makespan;
  const blind = simulate(w, { pilotError: 0.8, seed: 1, refine: false }).makespan;
  assert.ok(refined <= blind, `refined ${refined} vs blind ${blind}`);
});

test('pipeline keeps one device busy at a time; sharded-lrtf keeps them all busy', () => {
  const models = Array.from({ length: 8 }, (_, i) => simModel(`m${i}`, 4, 3));
  const w = workload(models, [1, 1, 1, 1]);
  assert.ok(simulate(w, { policy: 'pipeline' }).utilisation <= 0.25 + 1e-9);
  close(simulate(w, { policy: 'sharded-lrtf' }).utilisation, 1, 'sharded-lrtf utilisation');
});

test('bad workloads are refused with the field named', () => {
  assert.throws(() => simulate(workload([simModel('a', 1, 1)], [0])), /devices\[0\]\.speed: expected a positive number, got 0/);
  assert.throws(() => simulate(workload([simModel('a', 1, 1, 1, 5)], [1], 0)), /bandwidth: expected a positive number/);
  const big = simModel('a', 2, 1, 1, 10);
  big.shards[1].peakBytes = 100;
  assert.throws(() => simulate(workload([big], [1], 1, 50)), /models\[0\] \('a'\) shard 1 needs 100 bytes at its peak but device 0 has 50/);
  assert.throws(() => simulate(workload([simModel('a', 1, 1)], [1]), { noise: 1 }), /noise: expected a number in \[0, 1\)/);
});

test('prefetch within the model\'s reserve (the executor\'s rule); an unused prefetch is dropped and its bytes count', () => {
  const m = simModel('a', 2, 1, 1, 1e9);
  close(simulate(workload([{ ...m, reserve: 0.5e9 }], [1], 1e9)).makespan, 9, 'shard parameters larger than the reserve: two serial copies (B0 finds F0\'s)');
  close(simulate(workload([{ ...m, reserve: 1e9 }], [1], 1e9)).makespan, 8, 'within the reserve: overlapped');
  // Two devices, clipped models stepped on the host, round-robin: a hint can be overtaken (the other device takes the
  // hinted task, or a step makes the copy stale), and the prefetch is dropped.
  const models = Array.from({ length: 4 }, (_, i) => simModel(`m${i}`, 2, 3, 1 + (i % 3) * 0.3, 1e9, { clipping: true }));
  const r = simulate({ ...workload(models, [1, 1], 1e9, 4e9), stepOn: 'host' }, { policy: 'round-robin' });
  assert.ok(r.transfers.prefetchDropped > 0 && r.transfers.prefetchHits > 0, JSON.stringify(r.transfers));
  assert.equal(r.transfers.bytes, 1e9 * (r.transfers.serial + r.transfers.prefetchHits + r.transfers.prefetchDropped), 'every copy counts, used or not');
});

test('measured seconds: a task takes `seconds` alone and `sharedSeconds` while another device computes; the scheduler keeps its estimates', () => {
  const one = simModel('x', 1, 3, 1);
  const timed = (id: string) => ({ ...one, id, shards: one.shards.map((s) => ({ ...s, seconds: { FL: 2 }, sharedSeconds: { FL: 3 } })) });
  close(simulate(workload([timed('a')], [1, 1])).makespan, 3 * 2, 'alone: 2 s a step');
  close(simulate(workload([timed('a'), timed('b')], [1, 1])).makespan, 3 * 3, 'two at once: 3 s a step');
  close(simulate(workload([timed('a'), timed('b')], [1])).makespan, 6 * 2, 'one device: never two at once');
});
