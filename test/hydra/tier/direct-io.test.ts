/**
 * Direct I/O of scratch files (tier/scratch-file.ts, native/direct-io.cc): with O_DIRECT, any byte range — an
 * unaligned array in memory, an unaligned file offset, a length that is no whole number of blocks, a transfer of
 * several requests — reads back bitwise what was written, the bytes around a partial block keep theirs, and a
 * region never written reads as zeros. Where O_DIRECT is refused (EINVAL, as on a file system without it) or the
 * addon is missing, the file falls back to buffered I/O, says why, and gives the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuAddonInfo, loadCpuAddon } from '../../../src/backend/native-loader.js';
import { alignPad, ScratchFile, type DirectIo } from '../../../src/hydra/tier/scratch-file.js';

/** Writes and reads awkward ranges; returns every byte read, for comparing modes. */
async function exercise(f: ScratchFile): Promise<Float32Array[]> {
  const sab = new Float32Array(new SharedArrayBuffer((3 << 20) * 4 + 64));
  for (let i = 0; i < sab.length; i++) sab[i] = i * 0.25 - 7;
  // 3 Mi + 3 elements at an odd address: crosses two 8 MiB requests and many bounce pieces, tail not a whole block.
  const big = sab.subarray(5, 5 + (3 << 20) + 3);
  await f.write(big, 8192);
  // Small neighbours sharing blocks: unaligned offsets and lengths, written one after the other.
  const a = Float32Array.from({ length: 1001 }, (_, i) => i + 0.5), b = Float32Array.from({ length: 77 }, (_, i) => -i);
  const at = 8192 + big.byteLength + 100 * 4096 + 12;
  await f.write(a, at);
  await f.write(b, at + a.byteLength);
  const outs: Float32Array[] = [];
  const read = async (n: number, offset: number, address = 3) => {
    const dst = new Float32Array(new SharedArrayBuffer((n + address) * 4)).subarray(address, address + n);
    await f.read(dst, offset);
    outs.push(dst);
    return dst;
  };
  assert.deepEqual(await read(big.length, 8192), big, 'a large unaligned array reads back');
  assert.deepEqual(await read(a.length + b.length, at), Float32Array.from([...a, ...b]), 'neighbours in shared blocks both keep their bytes');
  assert.deepEqual(await read(10, 8192 + 4 * 1000, 0), big.subarray(1000, 1010), 'a range inside a block');
  assert.deepEqual(await read(5000, at + (1 << 20)), new Float32Array(5000), 'past the end of the file: zeros');
  assert.deepEqual(await read(100, 8192 + big.byteLength + 4096), new Float32Array(100), 'a hole never written: zeros');
  return outs;
}

test('scratch file with O_DIRECT: unaligned arrays, offsets and lengths read back bitwise; holes and past-the-end read as zeros', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-direct-'));
  try {
    const f = await ScratchFile.create(dir);
    // A file system that refuses O_DIRECT says EINVAL; every other mode is a bug.
    assert.ok(f.mode.direct || /EINVAL/.test(f.mode.why), JSON.stringify(f.mode));
    if (!f.mode.direct) t.diagnostic(`${tmpdir()} refuses O_DIRECT: buffered I/O was exercised instead`);
    const direct = await exercise(f);
    await f.remove();
    // The same bytes through the buffered fallback.
    const refusing: DirectIo = {
      ...loadCpuAddon(),
      directOpen: () => {
        throw Object.assign(new Error('EINVAL: invalid argument, open'), { code: 'EINVAL' });
      },
    };
    const g = await ScratchFile.create(dir, refusing);
    assert.deepEqual(g.mode, { direct: false, why: 'O_DIRECT refused (EINVAL)' });
    const buffered = await exercise(g);
    await g.remove();
    assert.deepEqual(buffered, direct);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scratch file without the native addon: buffered I/O, and it says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-direct-'));
  try {
    const f = await ScratchFile.create(dir, 'the native cpu addon is missing');
    assert.deepEqual(f.mode, { direct: false, why: 'no direct I/O: the native cpu addon is missing' });
    await exercise(f);
    await f.remove();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('O_DIRECT: an array at an aligned address and offset moves with no bounce copy; an unaligned tail bounces only its last block', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'hydra-direct-'));
  try {
    const f = await ScratchFile.create(dir);
    if (!f.mode.direct) {
      await f.remove();
      return t.skip(`${tmpdir()} refuses O_DIRECT (${f.mode.why}): there is no bounce to avoid`);
    }
    const addon = loadCpuAddon();
    const sab = new SharedArrayBuffer((1 << 20) * 4 + 8192);
    const pad = alignPad(sab);
    assert.equal(addon.directAddressMod(new Uint8Array(sab, pad, 1)), 0, 'alignPad finds the first aligned byte');
    // 1 Mi + 100 elements: whole blocks plus a 400-byte tail.
    const n = (1 << 20) + 100;
    const src = new Float32Array(sab, pad, n);
    for (let i = 0; i < n; i++) src[i] = i * 0.5 - 3;
    const before = addon.directStats();
    await f.write(src, 8192);
    const back = new Float32Array(new SharedArrayBuffer(sab.byteLength));
    const dst = new Float32Array(back.buffer, alignPad(back.buffer), n);
    await f.read(dst, 8192);
    const after = addon.directStats();
    assert.deepEqual(dst, src, 'reads back bitwise');
    const whole = Math.floor((n * 4) / 4096) * 4096;
    assert.equal(after.direct - before.direct, 2 * whole, 'every whole block went straight, both ways');
    assert.equal(after.bounced - before.bounced, 2 * (n * 4 - whole), 'only the tail bounced');
    await f.remove();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
