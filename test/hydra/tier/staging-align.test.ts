/**
 * Staging slots, activation slots and O_DIRECT: a large array starts at a 4 KiB boundary of a slot (its base is the
 * buffer's first aligned byte), so a read into it at an aligned file offset bounces nothing; the padding is in the
 * slot's size, the one the placement counts and the host tier allocates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuAddonInfo, loadCpuAddon } from '../../../src/backend/native-loader.js';
import { ALIGN, ScratchFile } from '../../../src/hydra/tier/scratch-file.js';
import { actSlotBytes, ALIGNED_ARRAY_BYTES, slotArray, slotBase, stagingLayout, stagingSlotBytes } from '../../../src/hydra/tier/staging.js';
import { buildRuntime, type ModelRuntime } from '../../../src/hydra/run/model-runtime.js';
import { buildArch } from '../../../src/nn/families.js';
import { gpt2Arch } from '../../../src/nn/gpt2.js';
import { CONSTANT_LR } from '../../../src/optim/schedule.js';
import { ACT_SLOTS, placeJob } from '../../../src/hydra/tier/placement.js';
import { HostTier } from '../../../src/hydra/tier/host-tier.js';
import { allocateHostState, releaseHostState, viewsOf } from '../../../src/hydra/tier/host-state.js';
import { DiskBoundaries } from '../../../src/hydra/tier/disk-boundaries.js';
import { TINY } from '../helpers.js';

/** A runtime with one shard holding these one-shard parameters (all that stagingLayout reads). */
const oneShard = (ns: Record<string, number>) =>
  ({ shardParams: [Object.entries(ns).map(([name, n]) => ({ spec: { name }, n, shards: [0] }))] }) as unknown as ModelRuntime;

test('staging slot bytes count the alignment padding; tiny shards pay none', () => {
  assert.equal(stagingSlotBytes([10, 20]), 2 * 30 * 4, 'small arrays packed, no base block');
  const big = ALIGNED_ARRAY_BYTES / 4 + 3;
  // values: small(5) pad big; grads: small(5) pad big — each big array padded to a block, plus one block of base.
  const block = ALIGN / 4;
  const end = Math.ceil((Math.ceil(5 / block) * block + big + 5) / block) * block + big;
  assert.equal(stagingSlotBytes([5, big]), end * 4 + ALIGN);
  assert.ok(stagingSlotBytes([5, big]) > 2 * (5 + big) * 4);
});

test('a large array in a staging slot sits at an aligned address: its O_DIRECT read bounces only its partial tail', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const addon = loadCpuAddon();
  const n = ALIGNED_ARRAY_BYTES / 4 + 7;
  const buf = new SharedArrayBuffer(stagingSlotBytes([3, n]));
  const slots = { buffers: [buf], bases: [slotBase(buf)] };
  // The layout the disk state uses: the small array packed, the large one's value and gradient each at a block.
  const big = stagingLayout(oneShard({ small: 3, big: n }), new Set(['small', 'big'])).get('big')!;
  assert.deepEqual([(big.value * 4) % ALIGN, (big.grad * 4) % ALIGN], [0, 0], 'value and gradient at block boundaries of the slot');
  assert.ok((big.grad + n) * 4 <= buf.byteLength - slots.bases[0], 'the layout fits the slot from its base');
  const grad = slotArray(slots, 0, big.grad, n);
  assert.equal(addon.directAddressMod(new Uint8Array(grad.buffer, grad.byteOffset, 1)), 0);
  const dst = slotArray(slots, 0, big.value, n);
  assert.equal(addon.directAddressMod(new Uint8Array(dst.buffer, dst.byteOffset, 1)), 0);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-stage-'));
  const file = await ScratchFile.create(dir);
  try {
    if (!file.mode.direct) return t.skip(`${tmpdir()} refuses O_DIRECT (${file.mode.why})`);
    const src = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    await file.write(src, ALIGN);
    const before = addon.directStats();
    await file.read(dst, ALIGN);
    const after = addon.directStats();
    assert.equal(after.bounced - before.bounced, (n * 4) % ALIGN, 'only the partial tail block bounced');
    assert.deepEqual(Array.from(dst), Array.from(src));
  } finally {
    await file.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('activation slots: a boundary of 64 KiB or more sits at an aligned address in its slot (the padding counted in the placement), so its O_DIRECT write and read bounce only the partial tail block', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const addon = loadCpuAddon();
  // Five shards of a tiny GPT-2 whose boundaries (B·T·n_embd floats) are over 64 KiB and not a whole number of blocks.
  const model = buildArch(gpt2Arch({ ...TINY, n_layer: 4 }));
  const at = [0, 1, 2, 3, 4, model.layers.length];
  const rt = buildRuntime(model, at.slice(1).map((to, i) => ({ from: at[i], to })), { optimizer: { kind: 'sgd', lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 }, schedule: CONSTANT_LR, clipNorm: 0, totalSteps: 1, seed: 0 }, 140, 8);
  const bytes = 4 * rt.boundaryLength[1];
  assert.ok(bytes >= ALIGNED_ARRAY_BYTES && bytes % ALIGN !== 0, `boundary of ${bytes} bytes`);
  const placed = placeJob([{ name: 'm', rt }], 0, 1), m = placed.models[0];
  assert.deepEqual(m.diskBoundaries, [1, 2, 3, 4], 'at the floor every boundary is on disk');
  assert.equal(m.actSlotBytes, bytes + ALIGN, 'one block of room for the aligned base');
  assert.equal(m.actSlotBytes, actSlotBytes(bytes));
  // What the host tier allocates is what the placement counted (the slots' padding included).
  const tier = new HostTier();
  const state = allocateHostState(rt, tier, 'm', { ...m, slotBytes: 0 });
  assert.equal(tier.stats().inUse, m.hostBytes, 'the host tier holds what the placement counted');
  assert.equal(state.actSlots!.buffers.length, ACT_SLOTS);
  const views = viewsOf(state);
  for (let slot = 0; slot < ACT_SLOTS; slot++) {
    views.stageAct(1, slot);
    const a = views.act(1);
    assert.equal(addon.directAddressMod(new Uint8Array(a.buffer, a.byteOffset, 1)), 0, `activation slot ${slot}: content at an aligned address`);
    assert.ok(a.byteOffset + a.byteLength <= a.buffer.byteLength);
  }
  // Through the disk tier's boundary code: boundary 1 written by F0, read back by B1 after the slots moved on.
  const dir = mkdtempSync(join(tmpdir(), 'hydra-act-align-'));
  const file = await ScratchFile.create(dir);
  try {
    if (!file.mode.direct) return t.skip(`${tmpdir()} refuses O_DIRECT (${file.mode.why})`);
    const io = { read: 0, written: 0 };
    const offsets = new Map([1, 2, 3, 4].map((k, i) => [k, i * Math.ceil(bytes / ALIGN) * ALIGN]));
    const b = new DiskBoundaries('m', 4, file, offsets, state.actSlots!, state.actSlots!.lengths, io);
    const content = Float32Array.from({ length: bytes / 4 }, (_, i) => Math.cos(i));
    const before = addon.directStats();
    for (let k = 0; k < 4; k++) {
      const pairs = await b.before('F', k, false);
      const out = pairs.find(([x]) => x === k + 1)!;
      slotArray(state.actSlots!, out[1], 0, bytes / 4).set(k === 0 ? content : new Float32Array(bytes / 4));
      b.after();
    }
    for (const [kind, k] of [['FL', 4], ['B', 3], ['B', 2], ['B', 1]] as const) {
      const pairs = await b.before(kind, k, false);
      if (k === 1) assert.deepEqual(slotArray(state.actSlots!, pairs[0][1], 0, bytes / 4), content, 'boundary 1 read back from disk');
      b.after();
    }
    await b.settle();
    const after = addon.directStats();
    assert.ok(io.written >= bytes && io.read >= bytes, JSON.stringify(io));
    // Each transfer of a boundary bounces at most its partial tail block.
    const transfers = (io.written + io.read) / bytes;
    assert.equal(after.bounced - before.bounced, transfers * (bytes % ALIGN), `${transfers} transfers`);
  } finally {
    await file.remove();
    rmSync(dir, { recursive: true, force: true });
    releaseHostState(state, tier);
  }
});
