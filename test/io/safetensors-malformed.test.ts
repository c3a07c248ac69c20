import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, SafetensorsError, writeSafetensors } from '../../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'hydra-st-bad-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** A file with the given header (object or raw text), data bytes and optionally a forged header length. */
function craft(header: unknown, dataBytes: number, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const path = join(dir, `bad-${counter++}.safetensors`);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes, 7)]));
  return path;
}

const t = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readSafetensors(path), (err: unknown) => {
    assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${path}: invalid safetensors file: `), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

test('malformed safetensors: each kind of damage gives a clear SafetensorsError naming the file', async () => {
  const w = t('F32', [2], 0, 8);
  const tiny = join(dir, 'tiny.safetensors');
  writeFileSync(tiny, Buffer.from([1, 2, 3, 4, 5]));
  await rejects(tiny, /truncated: 5 bytes, shorter than the 8-byte header length/);
  await rejects(craft({ w }, 8, 10_000n), /header length 10000 runs past the end of the \d+-byte file/);
  await rejects(craft({ w }, 8, 200_000_000n), /header length 200000000 exceeds the 104857600-byte limit/);
  await rejects(craft({ w }, 8, 1n << 63n), /exceeds the 104857600-byte limit/);
  await rejects(craft('{"w": {"dtype": "F32", ', 8), /header is not valid JSON/);
  await rejects(craft('[1, 2]', 0), /header must start with '\{'/);
  await rejects(craft('"str"', 0), /header must start with '\{'/);
  await rejects(craft({ w: t('F99', [2], 0, 8) }, 8), /tensor 'w': unknown dtype "F99"/);
  await rejects(craft({ w: t('F32', [2, 2], 0, 8) }, 8), /tensor 'w': F32 shape \[2, 2\] needs 16 bytes, data_offsets \[0, 8\] span 8/);
  await rejects(craft({ w: t('F32', [2], 0, 8) }, 4), /tensor 'w': data_offsets \[0, 8\] run past the 4-byte data buffer \(truncated\?\)/);
  await rejects(craft({ a: t('F32', [2], 0, 8), b: t('F32', [2], 4, 12) }, 12), /tensor 'b': data_offsets \[4, 12\] overlap the previous tensor/);
  await rejects(craft({ a: t('F32', [1], 0, 4), b: t('F32', [1], 8, 12) }, 12), /gap in the data buffer: bytes \[4, 8\) belong to no tensor \(before 'b'\)/);
  await rejects(craft({ w }, 12), /4 bytes after the last tensor belong to no tensor/);
  await rejects(craft({ w: t('F32', [2], 8, 0) }, 8), /end before begin/);
  await rejects(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, 8), /data_offsets must be \[begin, end\] non-negative integers/);
  await rejects(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, 8), /data_offsets must be \[begin, end\]/);
  await rejects(craft({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /shape must be an array of non-negative integers, got \[-2\]/);
  await rejects(craft({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, 8), /shape must be an array of non-negative integers/);
  await rejects(craft({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8), /impossibly large/);
  await rejects(craft({ w: 5 }, 0), /tensor 'w': entry must be an object/);
  await rejects(craft({ __metadata__: { x: 1 } }, 0), /__metadata__\['x'\] must be a string, got number/);
  await rejects(craft({ __metadata__: [] }, 0), /__metadata__ must be an object of strings/);
  await rejects(craft({ w: t('I64', [1], 0, 8) }, 8), /tensor 'w': dtype I64 cannot be read as float32 \(readable: F32, F16, BF16, F64\)/);
  const badUtf8 = join(dir, 'utf8.safetensors');
  writeFileSync(badUtf8, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0x7d])]));
  await rejects(badUtf8, /header is not valid UTF-8/);
});

test('malformed safetensors: recognised-but-unreadable dtypes still pass header inspection; an empty file of tensors is valid', async () => {
  const header = await readSafetensorsHeader(craft({ ids: t('I64', [1], 0, 8) }, 8));
  assert.equal(header.entries[0].dtype, 'I64');
  const empty = await readSafetensors(craft({}, 0));
  assert.equal(empty.tensors.size, 0);
});

test('malformed safetensors: every truncation of a valid file is rejected, never a crash or a silent short read', async () => {
  const good = join(dir, 'good.safetensors');
  await writeSafetensors(good, { a: { shape: [3], data: Float32Array.from([1, 2, 3]) }, b: { shape: [2], data: Float32Array.from([4, 5]) } }, { m: 'x' });
  const bytes = readFileSync(good);
  const cut = join(dir, 'cut.safetensors');
  for (let len = 0; len < bytes.length; len++) {
    writeFileSync(cut, bytes.subarray(0, len));
    await assert.rejects(readSafetensors(cut), SafetensorsError, `truncated to ${len} of ${bytes.length} bytes`);
  }
});

test('malformed safetensors: random byte flips either fail with SafetensorsError or load (data bytes carry no checksum)', async () => {
  const good = join(dir, 'good2.safetensors');
  await writeSafetensors(good, { a: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } });
  const bytes = readFileSync(good);
  const flipped = join(dir, 'flipped.safetensors');
  let rejected = 0;
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] ^= 0x5a;
    writeFileSync(flipped, copy);
    try {
      await readSafetensors(flipped);
    } catch (err) {
      assert.ok(err instanceof SafetensorsError, `flip at ${i}: ${String(err)}`);
      rejected++;
    }
  }
  assert.ok(rejected > 0);
});
