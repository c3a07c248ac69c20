import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorEntry } from '../../src/io/safetensors.js';
import { f16BitsToF32 } from '../../src/io/float16.js';
import type { HostTensor } from '../../src/io/host-tensor.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/io/', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'hydra-st-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));

function sample(): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  m.set('z.last', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, NaN, Infinity, -0]) });
  m.set('a.first', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) });
  m.set('scalar', { shape: [], data: Float32Array.from([42]) });
  m.set('empty', { shape: [0, 4], data: new Float32Array(0) });
  m.set('odd', { shape: [1, 1, 5], data: Float32Array.from([1, 2, 3, 4, 5]) });
  return m;
}

const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

test('safetensors writer: 8-byte aligned data start, sorted contiguous tensors, metadata kept', async () => {
  const path = join(tmp(), 'm.safetensors');
  await writeSafetensors(path, sample(), { format: 'pt', note: 'hi' });
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data buffer starts 8-byte aligned');
  const headerText = buf.toString('utf8', 8, 8 + n);
  assert.match(headerText, /^\{.*\} *$/, 'JSON padded with trailing spaces only');
  const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number]; dtype: string }>;
  assert.deepEqual(header.__metadata__, { format: 'pt', note: 'hi' });
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  assert.deepEqual(names, ['a.first', 'empty', 'odd', 'scalar', 'z.last']);
  let pos = 0;
  for (const name of names) {
    assert.equal(header[name].dtype, 'F32');
    assert.equal(header[name].data_offsets[0], pos, `${name} starts where the previous ended`);
    pos = header[name].data_offsets[1];
  }
  assert.equal(8 + n + pos, buf.length, 'no bytes after the last tensor');
  assert.deepEqual(readdirSync(join(path, '..')), ['m.safetensors'], 'no temp file left');
});

test('safetensors: write -> read (file and in-memory) is bit-identical, incl. NaN, -0, scalars and empty tensors', async () => {
  const path = join(tmp(), 'm.safetensors');
  const src = sample();
  await writeSafetensors(path, src, { k: 'v' });
  const fromFile = await readSafetensors(path);
  const inMemory = decodeSafetensors(readFileSync(path), path);
  for (const got of [fromFile, inMemory]) {
    assert.deepEqual(got.metadata, { k: 'v' });
    assert.deepEqual([...got.tensors.keys()].sort(), [...src.keys()].sort());
    for (const [name, t] of src) {
      assert.deepEqual(got.tensors.get(name)!.shape, t.shape, name);
      assert.deepEqual(bits(got.tensors.get(name)!.data), bits(t.data), name);
    }
  }
  // encodeSafetensors does not copy tensor data: its chunks view the tensors' memory.
  const chunks = encodeSafetensors(src);
  assert.equal(chunks.length, 1 + src.size);
});

test('safetensors reader: in-memory F32 tensors are views when aligned, copies when not', async () => {
  const path = join(tmp(), 'm.safetensors');
  await writeSafetensors(path, sample());
  const file = readFileSync(path);
  const aligned = decodeSafetensors(file, path);
  assert.equal(aligned.tensors.get('odd')!.data.buffer, file.buffer, 'aligned: a view on the file buffer');
  const shifted = new Uint8Array(file.length + 1).subarray(1);
  shifted.set(file);
  const copied = decodeSafetensors(shifted, path);
  assert.notEqual(copied.tensors.get('odd')!.data.buffer, shifted.buffer);
  assert.deepEqual([...copied.tensors.get('odd')!.data], [1, 2, 3, 4, 5]);
});

test('f16 decoding: zero, subnormals, normals, max, infinities, NaN', () => {
  assert.equal(f16BitsToF32(0x3c00), 1);
  assert.equal(f16BitsToF32(0xc000), -2);
  assert.equal(f16BitsToF32(0x7bff), 65504);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16BitsToF32(0x0400), 2 ** -14);
  assert.equal(f16BitsToF32(0x7c00), Infinity);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
});

test('F16, BF16, F64 and unaligned F32 from a PyTorch-written file decode to the same float32 bits as torch', async () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'half.expected.json'), 'utf8')) as Record<string, { shape: number[]; f32_bits: number[] }>;
  const path = join(FIXTURES, 'half.safetensors');
  const header = await readSafetensorsHeader(path);
  assert.deepEqual(header.entries.map((e) => e.dtype).sort(), ['BF16', 'F16', 'F32', 'F64']);
  assert.match(header.metadata.made_by, /^torch /);
  for (const got of [await readSafetensors(path), decodeSafetensors(readFileSync(path), path)]) {
    for (const [name, want] of Object.entries(expected)) {
      const t = got.tensors.get(name)!;
      assert.deepEqual(t.shape, want.shape, name);
      assert.deepEqual(bits(t.data), want.f32_bits, name);
    }
  }
});

test('readSafetensors options: filter skips tensors, allocate places them, onRawBytes sees every tensor in file order', async () => {
  const path = join(tmp(), 'm.safetensors');
  await writeSafetensors(path, sample());
  const shared = new Float32Array(new SharedArrayBuffer(5 * 4));
  const seen: string[] = [];
  const got = await readSafetensors(path, {
    filter: (e: TensorEntry) => e.name === 'odd',
    allocate: () => shared,
    onRawBytes: (e) => seen.push(e.name),
  });
  assert.deepEqual([...got.tensors.keys()], ['odd']);
  assert.equal(got.tensors.get('odd')!.data, shared);
  assert.deepEqual([...shared], [1, 2, 3, 4, 5]);
  assert.deepEqual(seen, ['a.first', 'empty', 'odd', 'scalar', 'z.last']);
});

test('safetensors writer refuses inconsistent tensors and non-string metadata', async () => {
  assert.throws(() => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }), /tensor 'w': shape \[2, 2\] has 4 elements, data has 3/);
  assert.throws(() => encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } }), /shape must be an array of non-negative integers/);
  assert.throws(() => encodeSafetensors({}, { n: 3 as unknown as string }), /metadata 'n' must be a string/);
});
