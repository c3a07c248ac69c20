/**
 * Staging slots and O_DIRECT: a large array starts at a 4 KiB boundary of a slot (its base is the buffer's first
 * aligned byte), so a read into it at an aligned file offset bounces nothing; the padding is in the slot's size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuAddonInfo, loadCpuAddon } from '../../../src/backend/native-loader.js';
import { ALIGN, ScratchFile } from '../../../src/hydra/tier/scratch-file.js';
import { ALIGNED_ARRAY_BYTES, slotArray, slotBase, stagingLayout, stagingSlotBytes } from '../../../src/hydra/tier/staging.js';
import type { ModelRuntime } from '../../../src/hydra/run/model-runtime.js';

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
