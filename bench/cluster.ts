/**
 * bench:cluster — the paper's 12-configuration grid shape (batch {2, 1} × 6 learning rates here, a tiny GPT-2) as a
 * cluster job on 1, 2 and 3 local `hydra worker` processes (each `cpu:1x1`, each with its own Redis connections)
 * against one real redis-server and a shared-directory store. Per run: makespan (submit → every model done, workers
 * already started), scaling efficiency T1 / (k·Tk), and the queue overhead per segment: the worker's time for a
 * segment outside train() (replay check, checkpoint download and upload, record, enqueueing the next segment, job
 * completion), plus the pickup latency (enqueued → taken) of segments taken by an idle worker.
 * On a 2-core machine three one-thread workers oversubscribe the cores: speed-up beyond 2 is not expected.
 */
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BULL_PREFIX, QUEUE_NAME, type SegmentRecord } from '../src/cluster/spec.js';
import { RedisServer, hydraOk, startWorker, tempDir, writeGrid, type Proc } from '../test/cluster/harness.js';
import { waitAllDone } from '../test/cluster/wait.js';
import { machine, median, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 8);
const SEGMENT = Number(process.env.SEGMENT_STEPS ?? 4);
const WORKERS = (process.env.WORKERS ?? '1,2,3').split(',').map(Number);
const DEVICE_MEMORY = process.env.DEVICE_MEMORY ?? '128MiB';
const LRS = [3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5];
const model = { n_layer: 2, n_head: 2, n_embd: 64, n_ctx: 32, dropout: 0.1, tie: true };

const dir = tempDir('hydra-bench-cluster-');
const config = writeGrid(dir, { name: 'bench', model, grid: { batch_size: [2, 1], lr: LRS }, block_size: 32, steps: STEPS, segment_steps: SEGMENT, device_memory: DEVICE_MEMORY });

interface Run { workers: number; makespan_s: number; efficiency: number; segments: number; overhead_ms: number; pickup_ms: number; train_call_ms: number }
const runs: Run[] = [];
for (const k of WORKERS) {
  const redis = await RedisServer.start();
  const store = join(dir, `store-${k}`);
  const workers: Proc[] = Array.from({ length: k }, (_, i) => startWorker(redis, store, dir, `k${k}w${i}`, ['--lock-seconds', '30', '--device-memory', DEVICE_MEMORY]));
  try {
    // Workers up (modules loaded, Redis checked) before the clock starts.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => workers.every((w) => /^worker /m.test(w.out())) && (clearInterval(poll), resolve()), 100);
    });
    const t0 = performance.now();
    await hydraOk(['submit', config, '--queue', redis.url, '--store', store], dir);
    await waitAllDone(redis.url, 'bench', 600_000, () => workers.map((w) => w.out()).join('\n'));
    const makespan = (performance.now() - t0) / 1000;
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection: conn, prefix: BULL_PREFIX });
    const jobs = await queue.getJobs(['completed']);
    await queue.close();
    conn.disconnect();
    const overhead = jobs.map((j) => j.finishedOn! - j.processedOn! - 1000 * (j.returnvalue as SegmentRecord).trainSeconds);
    // Pickup latency only where the segment did not wait for a busy worker: enqueued while some worker was idle is
    // not observable here, so take the smallest half (segments taken at once) as the queue's own latency.
    const pickups = jobs.map((j) => j.processedOn! - j.timestamp).sort((a, b) => a - b).slice(0, Math.max(1, jobs.length >> 1));
    const t1 = runs[0]?.makespan_s ?? makespan;
    runs.push({
      workers: k, makespan_s: makespan, efficiency: t1 / (k * makespan), segments: jobs.length, overhead_ms: median(overhead), pickup_ms: median(pickups),
      train_call_ms: median(jobs.map((j) => 1000 * (j.returnvalue as SegmentRecord).trainSeconds)),
    });
    console.log(`${k} worker(s): makespan ${makespan.toFixed(1)} s`);
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await redis.kill();
  }
}
console.log(table(runs as unknown as Record<string, number>[]));
writeJson('bench/results/cluster.json', {
  runs,
  grid: { models: 12, steps: STEPS, segment_steps: SEGMENT, model, tokens_per_sample: 32 },
  workers: 'hydra worker processes, cpu:1x1 each, --models 1, one redis-server on localhost, a shared-directory store',
  note: 'overhead_ms: median per segment of the worker time outside train(); pickup_ms: median enqueue→start of the faster half; train_call_ms: median train() wall per segment (includes its set-up: device threads, plan cache, checkpoint restore)',
  machine: machine(),
});
