/** Fixtures shared by the Hugging Face layout tests (GPT-2, Llama): hashed tensor values and a bitwise comparison. */
import assert from 'node:assert/strict';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { hashAt, hashString } from '../../src/backend/rng.js';

/** Deterministic, distinct values per tensor (bit patterns from the counter hash, as finite floats). */
export function hashedTensors(shapes: Iterable<[string, number[]]>): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const key = hashString(name);
    for (let i = 0; i < n; i++) data[i] = (hashAt(key, i) / 2 ** 32 - 0.5) * 0.2;
    m.set(name, { shape, data });
  }
  return m;
}

export const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

/** Same names, shapes and bits. */
export function assertSameTensors(got: Map<string, HostTensor>, want: Map<string, HostTensor>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, t] of want) {
    assert.deepEqual(got.get(name)!.shape, t.shape, name);
    assert.deepEqual(bits(got.get(name)!.data), bits(t.data), name);
  }
}
