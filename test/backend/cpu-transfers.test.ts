/**
 * cpu transfers run on libuv's thread pool; these tests pin down that the results are still those of running every
 * call in order: a kernel waits for an upload in flight on its buffers, a download sees exactly the kernels called
 * before it, and several transfers on one buffer take effect in call order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend } from '../../src/backend/cpu.js';
import { assertBitwise, Rand } from './helpers.js';

test('cpu: a kernel called right after upload (not awaited) sees the uploaded data', async () => {
  const be = createCpuBackend({ threads: 2 });
  try {
    const n = 1 << 20;
    const x = be.alloc(n), y = be.alloc(n);
    const host = new Rand(1).uniform(n);
    const pending = be.upload(x, host);
    be.copy(y, x, n);
    be.scale(y, 2);
    await pending;
    const expect = host.map((v) => v * 2);
    assertBitwise('copy after pending upload', await be.download(y), expect);
    be.free(x);
    be.free(y);
  } finally {
    be.dispose();
  }
});

test('cpu: a download sees the kernels called before it and not those called after', async () => {
  const be = createCpuBackend({ threads: 1 });
  try {
    const x = be.alloc(100_000);
    be.fill(x, 1);
    const before = be.download(x);
    be.fill(x, 2);
    const after = be.download(x);
    assert.ok((await before).every((v) => v === 1));
    assert.ok((await after).every((v) => v === 2));
    be.free(x);
  } finally {
    be.dispose();
  }
});

test('cpu: uploads and downloads on one buffer take effect in call order; sync waits for all', async () => {
  const be = createCpuBackend({ threads: 1 });
  try {
    const n = 50_000;
    const x = be.alloc(n);
    const seen: Promise<Float32Array>[] = [];
    for (let k = 0; k < 8; k++) {
      void be.upload(x, new Float32Array(n).fill(k));
      seen.push(be.download(x));
    }
    await be.sync();
    for (let k = 0; k < 8; k++) assert.ok((await seen[k]).every((v) => v === k), `download ${k} saw upload ${k}`);
    be.free(x);
  } finally {
    be.dispose();
  }
});

test('cpu: free with an upload in flight, then accounting is exact', async () => {
  const be = createCpuBackend({ threads: 1, budget: 64 << 20 });
  try {
    const x = be.alloc(4 << 20);
    const p = be.upload(x, new Float32Array(4 << 20).fill(3));
    be.free(x);
    await p;
    assert.equal(be.stats().inUse, 0);
    assert.equal(be.stats().highWater, 16 << 20);
  } finally {
    be.dispose();
  }
});

test('cpu: transfer argument errors name the problem', async () => {
  const be = createCpuBackend({ threads: 1 });
  try {
    const x = be.alloc(10);
    await assert.rejects(be.upload(x, new Int32Array(10)), /dtype mismatch.*f32.*Int32Array/);
    await assert.rejects(be.upload(x, new Float32Array(8), 3), /8 elements at offset 3 overflow a buffer of 10/);
    await assert.rejects(be.download(x, new Float32Array(4)), /host array has 4 elements, 10 are needed/);
    be.free(x);
    await assert.rejects(be.upload(x, new Float32Array(10)), /freed buffer/);
  } finally {
    be.dispose();
  }
});
