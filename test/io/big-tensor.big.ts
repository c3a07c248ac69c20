/**
 * `npm run test:big` (not in `npm test`: it needs ~8 GiB of memory, 2.5 GiB of disk and a minute or two): a real
 * 2.5 GiB F32 tensor — past the 2 GiB mark where Node's fs binding used to abort the process — read from a
 * safetensors file, written and re-read as a checksummed checkpoint, and copied to a cpu device and back; and an F16
 * tensor larger than the reader's scratch buffer widened piece by piece.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readCheckpoint, writeCheckpoint } from '../../src/io/checkpoint-file.js';
import { createCpuBackend } from '../../src/backend/cpu.js';
import { tempDir } from '../config/fixtures.js';
import { sparseSafetensors } from './sparse-safetensors.js';

const N = 2.5 * 2 ** 28; // 671,088,640 floats: 2.5 GiB
/** Elements around the 2 GiB byte mark, and the ends. */
const MARKS = [0, 2 ** 29 - 1, 2 ** 29, 2 ** 29 + 1, N - 1];

function checkMarks(data: Float32Array, what: string): void {
  assert.equal(data.length, N, what);
  MARKS.forEach((i, k) => assert.equal(data[i], k + 1.5, `${what}: element ${i}`));
  assert.equal(data[12345], 0, `${what}: the hole reads as zeros`);
}

test('a 2.5 GiB F32 tensor: read from safetensors, through a checkpoint, to a cpu device and back', async () => {
  const dir = tempDir();
  const path = join(dir, 'big.safetensors');
  const dataStart = sparseSafetensors(path, N);
  const fd = openSync(path, 'r+');
  MARKS.forEach((i, k) => writeSync(fd, new Float32Array([k + 1.5]), 0, 4, dataStart + 4 * i));
  closeSync(fd);

  const { tensors } = await readSafetensors(path);
  const big = tensors.get('big')!;
  checkMarks(big.data, 'safetensors');
  rmSync(path);

  const ckpt = join(dir, 'big.ckpt');
  await writeCheckpoint(ckpt, { tensors: new Map([['big', big]]), meta: { note: 'big' } });
  const back = await readCheckpoint(ckpt);
  checkMarks(back.tensors.get('big')!.data, 'checkpoint');
  back.tensors.clear();
  rmSync(ckpt);

  const be = createCpuBackend({ threads: 1 });
  try {
    const buf = be.alloc(N);
    await be.upload(buf, big.data);
    big.data.fill(0);
    await be.download(buf, big.data);
    checkMarks(big.data, 'cpu device');
    be.free(buf);
  } finally {
    be.dispose();
  }
});

test('an F16 tensor larger than the scratch buffer is widened piece by piece', async () => {
  const n = 48 * 2 ** 20; // 96 MiB of F16, past the 64 MiB scratch
  const path = join(tempDir(), 'f16.safetensors');
  const f16 = new Uint16Array(n);
  for (let i = 0; i < n; i += 4099) f16[i] = 0x3c00 + (i % 1024); // 1 + (i % 1024) / 1024
  const json = Buffer.from(JSON.stringify({ h: { dtype: 'F16', shape: [n], data_offsets: [0, 2 * n] } }));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  writeSync(fd, json);
  writeSync(fd, new Uint8Array(f16.buffer));
  closeSync(fd);
  const got = (await readSafetensors(path)).tensors.get('h')!.data;
  for (let i = 0; i < n; i += 4099) assert.equal(got[i], 1 + (i % 1024) / 1024, `element ${i}`);
  assert.equal(got[1], 0);
});
