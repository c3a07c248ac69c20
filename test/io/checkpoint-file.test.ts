import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, openCheckpoint, readCheckpoint, readCheckpointMeta, writeCheckpoint } from '../../src/io/checkpoint-file.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { writeFileAtomic } from '../../src/data/atomic-write.js';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { tensorBytes, type StreamedTensor, type TensorLike } from '../../src/io/streamed-tensor.js';

const root = mkdtempSync(join(tmpdir(), 'hydra-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));

const META = {
  data: { epoch: 2, step: 17 },
  rng: { seed: 1234, step: 91 },
  optimizer: { kind: 'adamw', lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, t: 91 },
  config: { n_layer: 2, n_embd: 8, tie: true },
  note: 'ünïcode ✓',
};

function tensors(): Map<string, HostTensor> {
  return new Map([
    ['wte.weight', { shape: [3, 2], data: Float32Array.from([0.5, -1, 2, NaN, -0, 1e-30]) }],
    ['opt.m.wte.weight', { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['opt.v.wte.weight', { shape: [3, 2], data: Float32Array.from([7, 8, 9, 10, 11, 12]) }],
    ['ln_f.bias', { shape: [2], data: Float32Array.from([0.25, 0.75]) }],
  ]);
}

const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

async function rejectsWith(path: string, problem: CheckpointError['problem'], pattern?: RegExp): Promise<void> {
  await assert.rejects(readCheckpoint(path), (err: unknown) => {
    assert.ok(err instanceof CheckpointError, `expected CheckpointError, got ${String(err)}`);
    assert.equal(err.problem, problem, err.message);
    assert.ok(err.message.startsWith(`checkpoint ${path}: `));
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

test('checkpoint: write -> read returns bit-identical tensors and the meta; no temp file left', async () => {
  const dir = tmp();
  const path = join(dir, 'step-91.ckpt.safetensors');
  const { bytes } = await writeCheckpoint(path, { tensors: tensors(), meta: META });
  assert.equal(readFileSync(path).length, bytes);
  assert.deepEqual(readdirSync(dir), ['step-91.ckpt.safetensors']);
  const back = await readCheckpoint<typeof META>(path);
  assert.deepEqual(back.meta, META);
  assert.deepEqual([...back.tensors.keys()].sort(), [...tensors().keys()].sort());
  for (const [name, t] of tensors()) {
    assert.deepEqual(back.tensors.get(name)!.shape, t.shape);
    assert.deepEqual(bits(back.tensors.get(name)!.data), bits(t.data), name);
  }
  assert.deepEqual(await readCheckpointMeta(path), META);
});

test('streamed tensors (read piece by piece as written): the checkpoint and the safetensors file are byte-identical to writing them from memory', async () => {
  const dir = tmp();
  const reads: number[] = [];
  const streamed = new Map<string, TensorLike>([...tensors()].map(([name, t]) => [name, {
    shape: t.shape,
    read: async (dst: Float32Array, offset: number) => void (reads.push(dst.length), dst.set(t.data.subarray(offset, offset + dst.length))),
  } satisfies StreamedTensor]));
  await writeCheckpoint(join(dir, 'mem.ckpt'), { tensors: tensors(), meta: META });
  const { bytes } = await writeCheckpoint(join(dir, 'streamed.ckpt'), { tensors: streamed, meta: META });
  assert.ok(readFileSync(join(dir, 'streamed.ckpt')).equals(readFileSync(join(dir, 'mem.ckpt'))));
  assert.equal(bytes, readFileSync(join(dir, 'mem.ckpt')).length);
  await readCheckpoint(join(dir, 'streamed.ckpt'));
  await writeSafetensors(join(dir, 'mem.safetensors'), tensors());
  await writeSafetensors(join(dir, 'streamed.safetensors'), streamed);
  assert.ok(readFileSync(join(dir, 'streamed.safetensors')).equals(readFileSync(join(dir, 'mem.safetensors'))));
  // Each tensor read once per file (smaller than a piece), never through a whole-file buffer.
  assert.deepEqual(reads, [2, 6, 6, 6, 2, 6, 6, 6]);
  // The bound: a tensor larger than a piece is read piece by piece.
  const pieces: number[] = [];
  for await (const b of tensorBytes([{ shape: [10], read: async () => undefined }], 4)) pieces.push(b.byteLength);
  assert.deepEqual(pieces, [16, 16, 8]);
});

test('openCheckpoint: checksums verified before any tensor is handed out; tensors then read in pieces, bit-identical', async () => {
  const dir = tmp();
  const path = join(dir, 'c.ckpt');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const opened = await openCheckpoint<typeof META>(path);
  assert.deepEqual(opened.meta, META);
  for (const [name, t] of tensors()) {
    const back = new Float32Array(t.data.length);
    // Two pieces: [0, 1) then the rest.
    await opened.tensors.get(name)!.read(back.subarray(0, 1), 0);
    await opened.tensors.get(name)!.read(back.subarray(1), 1);
    assert.deepEqual(bits(back), bits(t.data), name);
  }
  const bytes = readFileSync(path);
  bytes[bytes.length - 3] ^= 1;
  writeFileSync(path, bytes);
  await assert.rejects(openCheckpoint(path), (e: unknown) => e instanceof CheckpointError && e.problem === 'checksum' && /tensor data checksum mismatch/.test(e.message));
});

test('openCheckpoint: a checkpoint written over the path after it was verified is refused, never read at the old offsets', async () => {
  const dir = tmp();
  const path = join(dir, 'c.ckpt');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const opened = await openCheckpoint<typeof META>(path);
  // The next checkpoint replaces it (written atomically: a new file renamed over the path), with other values.
  const next = new Map([...tensors()].map(([name, t]) => [name, { shape: t.shape, data: t.data.map((x) => x + 1) }]));
  await writeCheckpoint(path, { tensors: next, meta: META });
  const dst = new Float32Array(6);
  await assert.rejects(opened.tensors.get('wte.weight')!.read(dst, 0), (e: unknown) => e instanceof CheckpointError && /replaced or changed after its checksums were verified/.test(e.message));
});

test('checkpoint: every single flipped byte anywhere in the file is detected (CheckpointError, never a silent load)', async () => {
  const dir = tmp();
  const path = join(dir, 'c.safetensors');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const good = readFileSync(path);
  const bad = join(dir, 'bad.safetensors');
  const problems = new Set<string>();
  for (let i = 0; i < good.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const copy = Buffer.from(good);
      copy[i] ^= mask;
      writeFileSync(bad, copy);
      await assert.rejects(readCheckpoint(bad), (err: unknown) => {
        assert.ok(err instanceof CheckpointError, `flip 0x${mask.toString(16)} at byte ${i}: got ${String(err)}`);
        problems.add(err.problem);
        return true;
      }, `flip 0x${mask.toString(16)} at byte ${i} of ${good.length} went undetected`);
    }
  }
  assert.ok(problems.has('checksum') && problems.has('invalid-file'), [...problems].join(','));
});

test('checkpoint: a flipped tensor byte is reported as a data checksum mismatch', async () => {
  const dir = tmp();
  const path = join(dir, 'c.safetensors');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const buf = readFileSync(path);
  buf[buf.length - 5] ^= 0x04;
  writeFileSync(path, buf);
  await rejectsWith(path, 'checksum', /tensor data checksum mismatch/);
});

test('checkpoint: every truncation is detected as a damaged or truncated file', async () => {
  const dir = tmp();
  const path = join(dir, 'c.safetensors');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const good = readFileSync(path);
  const cut = join(dir, 'cut.safetensors');
  for (let len = 0; len < good.length; len++) {
    writeFileSync(cut, good.subarray(0, len));
    await rejectsWith(cut, 'invalid-file');
  }
  writeFileSync(cut, good.subarray(0, good.length - 4));
  await rejectsWith(cut, 'invalid-file', /damaged or truncated: .*run past the .*data buffer \(truncated\?\)/);
});

test('checkpoint: a crash during a write leaves the previous checkpoint intact and no temp file', async () => {
  const dir = tmp();
  const path = join(dir, 'latest.safetensors');
  await writeCheckpoint(path, { tensors: tensors(), meta: { ...META, data: { epoch: 0, step: 1 } } });
  const before = readFileSync(path);
  // Simulate dying half-way: the chunk source fails after the first chunk has been written to the temp file.
  function* dying(): Generator<Uint8Array> {
    yield new Uint8Array(100).fill(1);
    throw new Error('simulated crash');
  }
  await assert.rejects(writeFileAtomic(path, dying()), /simulated crash/);
  assert.ok(readFileSync(path).equals(before), 'old checkpoint untouched');
  assert.deepEqual(readdirSync(dir), ['latest.safetensors']);
  assert.deepEqual((await readCheckpoint<typeof META>(path)).meta.data, { epoch: 0, step: 1 });
});

test('checkpoint: a partially written file (prefix of a checkpoint, no rename) cannot be read as a checkpoint', async () => {
  const dir = tmp();
  const path = join(dir, 'c.safetensors');
  await writeCheckpoint(path, { tensors: tensors(), meta: META });
  const good = readFileSync(path);
  const partial = join(dir, 'partial.safetensors');
  writeFileSync(partial, Buffer.concat([good.subarray(0, good.length - 10), Buffer.alloc(10)]));
  await rejectsWith(partial, 'checksum', /tensor data checksum mismatch/);
});

test('checkpoint: missing files, plain safetensors files and bad input are reported clearly', async () => {
  const dir = tmp();
  await rejectsWith(join(dir, 'nope.safetensors'), 'missing', /file does not exist/);
  const plain = join(dir, 'plain.safetensors');
  await writeSafetensors(plain, { w: { shape: [1], data: new Float32Array(1) } }, { format: 'pt' });
  await rejectsWith(plain, 'not-a-checkpoint', /__metadata__\.format is "pt", expected "hydra-checkpoint"/);
  await assert.rejects(writeCheckpoint(join(dir, 'x'), { tensors: tensors(), meta: { n: 10n } }), (err: unknown) => err instanceof CheckpointError && err.problem === 'bad-input' && /not JSON-serialisable/.test(err.message));
  await assert.rejects(writeCheckpoint(join(dir, 'x'), { tensors: new Map([['w', { shape: [2], data: new Float32Array(3) }]]), meta: {} }), /tensor 'w': shape \[2\] has 2 elements, data has 3/);
  assert.equal(existsSync(join(dir, 'x')), false);
});
