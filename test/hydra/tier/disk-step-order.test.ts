/**
 * The optimizer step from disk with global-norm clipping (tier/disk-state.ts), on its own: a model at its RAM floor
 * (every shard's values and gradients, every moment on disk) runs a backward through three staging slots, then shard
 * 0's backward makes the norm known and every parameter is stepped:
 *   - in the next forward's order: shard 0's step lands while the last shard's is still streaming (its gradient is
 *     written last; stepped last, the next forward's first task would wait for the whole model's step);
 *   - the shards whose slots still hold their values and this backward's gradients (0, and 2: the slot of 1 is still
 *     busy writing its gradients) are stepped in those slots: neither value nor gradient is read from disk, and their
 *     next tasks find the new values there (no read); every other shard streams its value and gradient from disk,
 *     each once its gradient's write has landed (shard 1's: without waiting for the shards after it);
 *   - either way bitwise equal to the same update in RAM, in the slot and on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../../src/backend/js.js';
import { buildArch } from '../../../src/nn/families.js';
import { gpt2Arch } from '../../../src/nn/gpt2.js';
import { buildRuntime } from '../../../src/hydra/run/model-runtime.js';
import { CONSTANT_LR } from '../../../src/optim/schedule.js';
import { ADAMW_DEFAULTS, applyUpdateHost, type OptimizerConfig } from '../../../src/optim/optimizer.js';
import { chunkBufferBytes, placeJob } from '../../../src/hydra/tier/placement.js';
import { HostTier } from '../../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../../src/hydra/tier/host-state.js';
import { StagingPool } from '../../../src/hydra/tier/staging.js';
import { ChunkBuffer } from '../../../src/hydra/tier/disk-step.js';
import { ModelDiskState } from '../../../src/hydra/tier/disk-state.js';
import { TINY } from '../helpers.js';

const ADAMW: OptimizerConfig = { ...ADAMW_DEFAULTS, lr: 1e-2, weightDecay: 0.1 };
const SCALE = 0.5;

/** A deterministic gradient per parameter. */
const gradOf = (name: string, n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + name.length * 7) * 0.1);
const settle = () => new Promise((r) => setImmediate(r));

test('clipping: the step from disk lands in the forward\'s order, the last backwards\' shards are stepped in their slots (no value or gradient read, found there by their next tasks), bitwise the update in RAM', async () => {
  const model = buildArch(gpt2Arch({ ...TINY, n_layer: 4 }));
  const at = [0, 1, 2, 3, 4, model.layers.length];
  const rt = buildRuntime(model, at.slice(1).map((to, i) => ({ from: at[i], to })), { optimizer: ADAMW, schedule: CONSTANT_LR, clipNorm: 1, totalSteps: 1, seed: 0 }, 2, 8);
  const last = rt.shards.length - 1;
  const job = placeJob([{ name: 'm', rt }], 0, 1), m = job.models[0];
  assert.deepEqual(m.diskShards, [0, 1, 2, 3, 4], 'every shard on disk at the floor');
  assert.equal(job.staging!.count, 3);
  const tier = new HostTier();
  const pool = new StagingPool(Array.from({ length: job.staging!.count }, () => tier.alloc(job.staging!.slotBytes, 'slot')));
  const buffers = allocateHostState(rt, tier, 'm', m, pool);
  const views = viewsOf(buffers, rt);
  const chunk = new ChunkBuffer(new SharedArrayBuffer(chunkBufferBytes(job.chunk!)), job.chunk!.elems, job.chunk!.arrays);
  const be = new JsBackend();
  const dir = mkdtempSync(join(tmpdir(), 'hydra-step-order-'));
  const disk = await ModelDiskState.create(rt, m, dir, buffers, views, chunk, be, pool);
  try {
    await disk.initParams(3);
    const before = new Map<string, Float32Array>();
    for (const p of rt.params) before.set(p.spec.name, await disk.readParam(p.spec.name));
    // The backward: FL on the last shard, then B down to shard 2, each one's gradients written to its slot (and, from
    // there, to disk); B1 and B0 back to back, so that B1's gradient write is still in flight when B0 ends.
    const backward = (k: number, slot: number | undefined, scale?: number) => {
      for (const p of rt.shardParams[k]) views.grad(p.spec.name).set(gradOf(p.spec.name, p.n));
      disk.after(k === last ? 'FL' : 'B', k, slot, 0, scale);
    };
    for (let k = last; k >= 2; k--) {
      backward(k, await disk.load(k));
      await disk.drain();
      await settle();
    }
    const slot1 = await disk.load(1), slot0 = await disk.load(0);
    const read0 = disk.io.read;
    backward(1, slot1);
    backward(0, slot0, SCALE);
    assert.ok(disk.stepping(0) && disk.stepping(last));
    // The next forward's first tasks: shards 0's and 1's steps have landed, the last shard's is still streaming (shard
    // 1's waited for its gradient's write, not for the shards after it).
    pool.release((await disk.load(0))!, disk, true);
    pool.release((await disk.load(1))!, disk, true);
    assert.equal(disk.stepping(last), true, 'the last shard is stepped after shards 0 and 1, not before');
    await disk.drain();
    await settle();
    // Read: every moment; values and gradients of the shards not stepped in their slots: 1 (its slot was busy writing
    // its gradients), 3 and 4 (their slots taken by later backwards); and shard 1's new values, by its load above.
    const onDisk = (k: number) => rt.shardParams[k].filter((p) => m.home.get(p.spec.name) === 'disk');
    const bytes = (ks: number[]) => ks.reduce((a, k) => a + onDisk(k).reduce((b, p) => b + 4 * p.n, 0), 0);
    const moments = rt.params.reduce((a, p) => a + 2 * 4 * p.n, 0);
    assert.equal(disk.io.read - read0, moments + 2 * bytes([1, 3, 4]) + bytes([1]), 'the step read the moments, and values and gradients of shards 1, 3 and 4 only');
    // The same update in RAM.
    const ref = new Map<string, Float32Array[]>();
    for (const p of rt.params) {
      const value = Float32Array.from(before.get(p.spec.name)!);
      const moms = [new Float32Array(p.n), new Float32Array(p.n)];
      assert.ok(applyUpdateHost(be, ADAMW, value, gradOf(p.spec.name, p.n), moms, p.n, { lr: ADAMW.lr, t: 1, gradScale: SCALE, decay: p.spec.decay }));
      ref.set(p.spec.name, [value, ...moms]);
    }
    // Shards 0 and 2 find their new values in their slots (no read), shard 1 in the slot its load read them into; shard
    // 3's are read. Bitwise the update in RAM.
    for (const k of [0, 1, 2, 3]) {
      const read = disk.io.read;
      const slot = (await disk.load(k))!;
      assert.equal(disk.io.read - read, k === 3 ? bytes([3]) : 0, `shard ${k}: ${k === 3 ? 'its values read' : 'no read'}`);
      for (const p of onDisk(k)) assert.deepEqual(Float32Array.from(views.param(p.spec.name)), ref.get(p.spec.name)![0], `${p.spec.name} in its slot`);
      pool.release(slot, disk, true);
    }
    for (const p of rt.params) {
      const [value, m1, m2] = ref.get(p.spec.name)!;
      assert.deepEqual(await disk.readParam(p.spec.name), value, `${p.spec.name} on disk`);
      assert.deepEqual(await disk.readParam(p.spec.name, 'm'), m1, `${p.spec.name}: first moment`);
      assert.deepEqual(await disk.readParam(p.spec.name, 'v'), m2, `${p.spec.name}: second moment`);
    }
  } finally {
    await disk.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
