/**
 * Submitting a job: its spec goes to the store (workers read data and spec from there) and to Redis (for
 * `hydra status`), then the first segment of every model is enqueued. Later segments are enqueued by the worker that
 * completes the one before, so a model never has two segments queued at once.
 */
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { Store } from './store.js';
import {
  BULL_PREFIX, QUEUE_NAME, REDIS_JOBS, redisModelsKey, redisSpecKey, segmentAt, segmentJobId, specKey,
  type ClusterJobSpec, type ModelState,
} from './spec.js';

/** Retries of a segment whose worker threw (a store or data error); a worker that dies is a stall, counted apart. */
export const SEGMENT_ATTEMPTS = 5;

export async function submitJob(spec: ClusterJobSpec, store: Store, redis: Redis): Promise<{ enqueued: number }> {
  // The name is claimed atomically (SET NX): of two submits of one name at once, one fails here.
  if ((await redis.set(redisSpecKey(spec.name), JSON.stringify(spec), 'NX')) === null) {
    const existing = await redis.get(redisSpecKey(spec.name));
    const when = existing ? ` (submitted ${(JSON.parse(existing) as ClusterJobSpec).submittedAt})` : '';
    throw new Error(`a job named '${spec.name}' is already on this queue${when}; choose another name (the config's 'name' field)`);
  }
  try {
    await store.putBytes(specKey(spec.name), Buffer.from(JSON.stringify(spec, null, 1)));
    const states: Record<string, string> = {};
    for (const m of spec.models) states[m.name] = JSON.stringify({ step: 0, total: m.totalSteps, state: 'queued' } satisfies ModelState);
    await redis.multi().sadd(REDIS_JOBS, spec.name).hset(redisModelsKey(spec.name), states).exec();
    const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: BULL_PREFIX });
    try {
      await queue.addBulk(
        spec.models.map((_, i) => {
          const seg = segmentAt(spec, i, 0);
          return { name: 'segment', data: seg, opts: segmentJobOptions(spec, seg) };
        }),
      );
    } finally {
      await queue.close();
    }
  } catch (err) {
    // Nothing was enqueued (addBulk is one transaction): give the name back, so the submit can simply be repeated.
    await redis.multi().del(redisSpecKey(spec.name)).srem(REDIS_JOBS, spec.name).del(redisModelsKey(spec.name)).exec().catch(() => {});
    throw err;
  }
  return { enqueued: spec.models.length };
}

export function segmentJobOptions(spec: ClusterJobSpec, seg: ReturnType<typeof segmentAt>) {
  return {
    jobId: segmentJobId(spec, seg),
    attempts: SEGMENT_ATTEMPTS,
    backoff: { type: 'exponential', delay: 1000 },
    // Completed jobs stay: their ids keep a replayed enqueue from adding a segment twice, and status reads them.
    removeOnComplete: false,
    removeOnFail: false,
  };
}
