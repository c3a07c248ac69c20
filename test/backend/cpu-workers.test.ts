/**
 * Several cpu backends in different worker_threads of one process at once (the `cpu:2x1` device layout): the addon
 * must load in every worker (context-aware) and each instance must compute exactly what a lone instance computes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createCpuBackend } from '../../src/backend/cpu.js';
import { assertBitwise, Rand } from './helpers.js';

const M = 96, K = 130, N = 257;

/** gemm + gelu + cross-entropy on fixed inputs; the checksum outputs of one instance. */
async function work(threads: number): Promise<Float32Array[]> {
  const be = createCpuBackend({ threads });
  try {
    const r = new Rand(99);
    const a = be.alloc(M * K), b = be.alloc(K * N), c = be.alloc(M * N), lse = be.alloc(M), loss = be.alloc(M), t = be.alloc(M, 'i32');
    await Promise.all([be.upload(a, r.uniform(M * K)), be.upload(b, r.uniform(K * N)), be.upload(t, r.ints(M, 0, N))]);
    for (let rep = 0; rep < 20; rep++) {
      be.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      be.geluForward(c, c, M * N);
      be.crossEntropyForward(loss, lse, c, t, M, N);
    }
    return [await be.download(c), await be.download(loss)];
  } finally {
    be.dispose();
  }
}

if (!isMainThread) {
  parentPort!.postMessage(await work(workerData.threads as number));
} else {
  test('cpu: two instances in two worker_threads run at once and match a lone instance bit for bit', async () => {
    const alone = await work(1);
    const run = (): Promise<Float32Array[]> =>
      new Promise((resolve, reject) => {
        const w = new Worker(new URL(import.meta.url), { workerData: { threads: 1 } });
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
      });
    const results = await Promise.all([run(), run()]);
    for (const [i, r] of results.entries()) {
      assert.equal(r.length, 2);
      assertBitwise(`worker ${i} gemm+gelu`, r[0], alone[0]);
      assertBitwise(`worker ${i} losses`, r[1], alone[1]);
    }
  });
}
