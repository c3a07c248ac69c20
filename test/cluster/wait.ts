/** Waiting on a cluster job from a test: its models' states in Redis, read directly (no process per poll). */
import { Redis } from 'ioredis';
import { redisModelsKey, type ModelState } from '../../src/cluster/spec.js';
import { sleep } from './harness.js';

export async function modelStates(url: string, job: string): Promise<Map<string, ModelState>> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => {});
  try {
    await r.connect();
    const h = await r.hgetall(redisModelsKey(job));
    return new Map(Object.entries(h).map(([k, v]) => [k, JSON.parse(v) as ModelState]));
  } finally {
    r.disconnect();
  }
}

/** Until every model is done; throws when one failed for good, or when `timeoutMs` passes (with `why()`). */
export async function waitAllDone(url: string, job: string, timeoutMs: number, why: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = new Map<string, ModelState>();
  while (Date.now() < end) {
    let ok = true;
    try {
      last = await modelStates(url, job);
    } catch {
      ok = false; // Redis restarting
    }
    if (ok) {
      if (last.size > 0 && [...last.values()].every((s) => s.state === 'done')) return;
      const failed = [...last].filter(([, s]) => s.state === 'failed');
      if (failed.length > 0) throw new Error(`job ${job}: ${failed.map(([m, s]) => `${m} failed: ${s.reason}`).join('; ')}\n${why()}`);
    }
    await sleep(300);
  }
  throw new Error(`job ${job} not done after ${timeoutMs} ms: ${JSON.stringify([...last])}\n${why()}`);
}
