/**
 * The placement policy (tier/placement.ts) on shapes alone, no training: what is read least per byte freed goes to
 * disk first; the staging pool is one per job, SLOTS_PER_DEVICE per device; a move that would cost more RAM (a
 * model's only shard staged through slots as large as itself) is not made, so the floor is the least RAM the job can
 * run with; and the job's staging pool (staging.ts) is shared safely: claims wait, a slot is given back only by its
 * holder, a model gone frees its slots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArch } from '../../../src/nn/families.js';
import { gpt2Arch } from '../../../src/nn/gpt2.js';
import { buildRuntime, type ModelRuntime } from '../../../src/hydra/run/model-runtime.js';
import { CONSTANT_LR } from '../../../src/optim/schedule.js';
import type { OptimizerConfig } from '../../../src/optim/optimizer.js';
import { ACT_SLOTS, describePlacement, placeJob, SLOTS_PER_DEVICE } from '../../../src/hydra/tier/placement.js';
import { actSlotBytes, StagingPool } from '../../../src/hydra/tier/staging.js';
import { TINY } from '../helpers.js';

const ADAMW: OptimizerConfig = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** A tiny tied GPT-2 (embed, 4 blocks, ln_f, tied head) cut into `cuts.length + 1` shards at those layers. */
function rt(cuts: number[], clipNorm = 1, optimizer: OptimizerConfig = ADAMW, B = 2): ModelRuntime {
  const model = buildArch(gpt2Arch({ ...TINY, n_layer: 4 }));
  const at = [0, ...cuts, model.layers.length];
  const shards = at.slice(1).map((to, i) => ({ from: at[i], to }));
  return buildRuntime(model, shards, { optimizer, schedule: CONSTANT_LR, clipNorm, totalSteps: 3, seed: 0 }, B, 8);
}

test('placement: everything fits, nothing moves; the plan says so', () => {
  const p = placeJob([{ name: 'a', rt: rt([2, 4]) }], Infinity, 2);
  assert.equal(p.diskBytes, 0);
  assert.equal(p.staging, null);
  assert.equal(p.readPerStep, 0);
  assert.match(p.reasons[0], /^everything in RAM/);
});

test('placement: with clipping, moments (1 read per byte freed) go before shards (1.5: the last one, 2: the others); what stays is read most', () => {
  // Four shards of about one block's parameters each (the first with the embeddings, the last with ln_f and the tied head).
  const r = rt([2, 3, 4]);
  const all = placeJob([{ name: 'a', rt: r }], Infinity, 1).hostBytes;
  // Just under everything in RAM: moments alone free enough.
  const p1 = placeJob([{ name: 'a', rt: r }], all - 1, 1);
  assert.ok(p1.hostBytes <= all - 1);
  assert.deepEqual(p1.models[0].diskShards, []);
  assert.ok([...p1.models[0].home.values()].includes('moments-on-disk'));
  assert.match(p1.reasons.join('\n'), /optimizer moments of \d+ parameters? on disk/);
  // At the floor every shard's parameters are on disk: the last one is the first to go.
  const floor = p1.hostFloor;
  const atFloor = placeJob([{ name: 'a', rt: r }], floor, 1);
  assert.ok(atFloor.hostBytes <= floor, `${atFloor.hostBytes} > ${floor}`);
  assert.deepEqual(atFloor.models[0].diskShards, [0, 1, 2, 3]);
  // In the order of cost, one item at a time (a held staging pool: slots cost nothing more, so nothing goes in groups).
  const held = { chunk: atFloor.chunk, staging: { slotBytes: 1 << 20, count: 3 } };
  let firstShard: number[] | null = null;
  const heldFloor = placeJob([{ name: 'a', rt: r }], 0, 1, held).hostFloor;
  for (let cap = all; cap >= heldFloor && firstShard === null; cap -= 256) {
    const p = placeJob([{ name: 'a', rt: r }], cap, 1, held);
    if (p.models[0].diskShards.length > 0) firstShard = p.models[0].diskShards;
    // Moments leave RAM before any shard's parameters: a shard on disk means every moment is on disk.
    if (p.models[0].diskShards.length > 0) assert.ok(![...p.models[0].home.values()].includes('host'), `cap ${cap}: a shard on disk while moments stay`);
  }
  assert.deepEqual(firstShard, [3], 'the last shard (read once per step) goes first');
  // Tied parameters (used by shards 0 and 2) never leave RAM; their moments do.
  const tied = r.params.filter((p) => p.shards.length > 1).map((p) => p.spec.name);
  assert.ok(tied.length > 0);
  for (const n of tied) assert.equal(atFloor.models[0].home.get(n), 'moments-on-disk');
  // Predicted traffic: what was chosen, per step.
  assert.ok(atFloor.readPerStep > p1.readPerStep && atFloor.writePerStep > 0);
});

test('placement: one staging pool per job, SLOTS_PER_DEVICE per device, sized for the largest disk shard; never more slots than models can use', () => {
  const models = ['a', 'b', 'c', 'd'].map((name) => ({ name, rt: rt([2, 4]) }));
  const floor2 = placeJob(models, 0, 2);
  const p = placeJob(models, floor2.hostFloor, 2);
  assert.ok(p.hostBytes <= floor2.hostFloor);
  assert.equal(p.staging!.count, SLOTS_PER_DEVICE * 2, 'per device, not per model');
  assert.equal(p.staging!.slotBytes, Math.max(...p.models.map((m) => m.slotBytes)));
  assert.equal(p.stagingBytes, p.staging!.count * p.staging!.slotBytes);
  assert.equal(p.hostBytes, p.models.reduce((a, m) => a + m.hostBytes, 0) + p.chunkBytes + p.stagingBytes, 'one accountant: models + chunk buffer + pool');
  // One model on 8 devices runs one task at a time: 3 slots, not 24.
  const one = placeJob([{ name: 'a', rt: rt([1, 2, 3, 4]) }], 0, 8);
  assert.equal(one.staging!.count, SLOTS_PER_DEVICE);
  // A running job's pool, large enough, is shared by models added to it: no new bytes.
  const added = placeJob([{ name: 'e', rt: rt([2, 4]) }], 0, 2, { chunk: p.chunk, staging: p.staging });
  assert.equal(added.stagingBytes, 0);
  assert.equal(added.chunkBytes, 0);
});

test('placement: a one-shard model is not staged through slots as large as itself (it would need more RAM, not less); the floor is the least RAM the job can run with', () => {
  const whole = rt([]);
  const p = placeJob([{ name: 'a', rt: whole }, { name: 'b', rt: whole }], 0, 2);
  assert.deepEqual(p.models.map((m) => m.diskShards), [[], []], 'moments only');
  assert.equal(p.hostBytes, p.hostFloor);
  assert.ok(p.models.every((m) => [...m.home.values()].every((h) => h === 'moments-on-disk')));
});

test('placement: boundary activations go last (every movable byte of state first), from the top down; the top two cost no traffic, each lower one a write and a read; the dry-run says so', () => {
  // Five shards (four boundaries of B·T·n_embd floats each), a batch large enough for them to matter.
  const r = rt([1, 2, 3, 4], 1, ADAMW, 16);
  const b = 4 * r.boundaryLength[1];
  assert.ok(r.boundaryLength.slice(1).every((n) => 4 * n === b));
  const floor = placeJob([{ name: 'a', rt: r }], 0, 1).hostFloor;
  const all = placeJob([{ name: 'a', rt: r }], Infinity, 1).hostBytes;
  // Bytes of a staging slot for shard k (its own parameters' values and gradients).
  const shardSlot = (k: number) => 8 * r.shardParams[k].filter((p) => p.shards.length === 1).reduce((n, p) => n + p.n, 0);
  const seen = new Set<string>();
  for (let cap = all; cap >= floor; cap -= 512) {
    const p = placeJob([{ name: 'a', rt: r }], cap, 1), m = p.models[0];
    assert.ok(p.hostBytes <= cap, `cap ${cap}: ${p.hostBytes} in RAM`);
    if (m.diskBoundaries.length === 0) continue;
    seen.add(m.diskBoundaries.join(','));
    // Last: every moment is on disk already, and every shard the job's staging slots (if any) can take.
    assert.ok(![...m.home.values()].includes('host'), `cap ${cap}: a moment in RAM while boundaries are on disk`);
    const slot = p.staging?.slotBytes ?? 0;
    assert.deepEqual(m.diskShards, [0, 1, 2, 3, 4].filter((k) => shardSlot(k) <= slot), `cap ${cap}: shards on disk with slots of ${slot}`);
    assert.deepEqual(m.diskBoundaries, [4, 3, 2, 1].slice(0, m.diskBoundaries.length).reverse(), 'a top run');
    assert.equal(m.actSlotBytes, actSlotBytes(b));
    // The slots are in the model's RAM, the boundaries on disk are not (the rest: batches, boundary gradient, norms).
    const params = r.params.reduce((a, q) => a + ({ host: 4, 'moments-on-disk': 2, disk: 0 }[m.home.get(q.spec.name)!] * 4 * q.n), 0);
    assert.equal(m.hostBytes, params + (4 - m.diskBoundaries.length) * b + ACT_SLOTS * actSlotBytes(b) + b + 2 * 16 * 8 * 4 + 8 * r.params.length, `cap ${cap}: RAM accounting`);
    // Traffic: moments once, shards per visit (with clipping: the gradient out and back, the values again), and of
    // the boundaries the top two none, each lower one written by its forward and read once by its backward.
    const lower = Math.max(0, m.diskBoundaries.length - 2) * b;
    const moments = r.params.reduce((a, q) => a + (m.home.get(q.spec.name) === 'host' ? 0 : 2 * 4 * q.n), 0);
    const shardRead = m.diskShards.reduce((a, k) => a + (k === 4 ? 1 : 2) * shardSlot(k) / 2 + shardSlot(k), 0);
    const shardWrite = m.diskShards.reduce((a, k) => a + shardSlot(k), 0);
    assert.equal(m.readPerStep, moments + shardRead + lower, `cap ${cap}: reads`);
    assert.equal(m.writePerStep, moments + shardWrite + lower, `cap ${cap}: writes`);
    const text = describePlacement(p).join('\n');
    assert.match(text, new RegExp(`boundary activations on disk ${m.diskBoundaries.length} of 4 \\(boundaries ${m.diskBoundaries.join(', ')}; ${ACT_SLOTS} slots of `));
    assert.match(text, /boundary activations of \d+ boundar(y|ies) on disk .*go last, from the top down/);
  }
  // Two slots free nothing until three boundaries go: the cap steps see three and four.
  assert.deepEqual([...seen].sort(), ['1,2,3,4', '2,3,4']);
  // At the floor all four are on disk.
  assert.deepEqual(placeJob([{ name: 'a', rt: r }], floor, 1).models[0].diskBoundaries, [1, 2, 3, 4]);
  // Two boundaries would take as much RAM in slots as they free: never moved.
  const two = rt([2, 4], 1, ADAMW, 16);
  assert.deepEqual(placeJob([{ name: 'a', rt: two }], 0, 1).models[0].diskBoundaries, []);
});

test('staging pool: a claim waits while every slot is busy; only the holder gives a slot back; a model gone frees its slots', async () => {
  const pool = new StagingPool([new SharedArrayBuffer(16)]);
  const a = {}, b = {};
  const s = await pool.claim(a);
  let got = -1;
  const waiting = pool.claim(b).then((i) => (got = i));
  await new Promise((r) => setImmediate(r));
  assert.equal(got, -1, 'waits while the only slot is busy');
  pool.release(s, b, false);
  await new Promise((r) => setImmediate(r));
  assert.equal(got, -1, "another model's release of a slot it does not hold changes nothing");
  pool.slot(s).shard = 3;
  pool.slot(s).gen = 0;
  pool.release(s, a, true);
  assert.equal(await waiting, 0);
  assert.equal(pool.find(a, 3, 0), -1, 'claimed by another: what it held is gone');
  pool.releaseOwner(b);
  assert.equal(pool.slot(0).busy, false);
  assert.equal(pool.slot(0).owner, null);
});
