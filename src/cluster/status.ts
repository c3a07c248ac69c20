/** `hydra status`: every job's models (committed steps, state, worker), the live workers and the queue's counts. */
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { BULL_PREFIX, QUEUE_NAME, REDIS_JOBS, REDIS_WORKERS, redisModelsKey, redisSpecKey, type ClusterJobSpec, type ModelState } from './spec.js';

export interface ClusterStatus {
  jobs: { name: string; submittedAt: string; models: ({ name: string } & ModelState)[] }[];
  workers: { id: string; devices: string; lastSeenSeconds: number; training: string[] }[];
  queue: Record<string, number>;
}

export async function readStatus(redis: Redis, job?: string): Promise<ClusterStatus> {
  const names = job !== undefined ? [job] : (await redis.smembers(REDIS_JOBS)).sort();
  const jobs: ClusterStatus['jobs'] = [];
  for (const name of names) {
    const specRaw = await redis.get(redisSpecKey(name));
    if (specRaw === null) throw new Error(`no job named '${name}' on this queue${job !== undefined ? ` (jobs: ${(await redis.smembers(REDIS_JOBS)).sort().join(', ') || 'none'})` : ''}`);
    const spec = JSON.parse(specRaw) as ClusterJobSpec;
    const states = await redis.hgetall(redisModelsKey(name));
    jobs.push({
      name,
      submittedAt: spec.submittedAt,
      models: spec.models.map((m) => ({ name: m.name, ...(JSON.parse(states[m.name] ?? 'null') ?? { step: 0, total: m.totalSteps, state: 'queued' }) as ModelState })),
    });
  }
  const now = Date.now();
  const workers = Object.entries(await redis.hgetall(REDIS_WORKERS)).map(([id, raw]) => {
    const w = JSON.parse(raw) as { devices: string; lastSeen: string; training: string[] };
    return { id, devices: w.devices, lastSeenSeconds: (now - Date.parse(w.lastSeen)) / 1000, training: w.training };
  });
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: BULL_PREFIX });
  try {
    return { jobs, workers, queue: await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed') };
  } finally {
    await queue.close();
  }
}

export function renderStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  for (const j of s.jobs) {
    const done = j.models.filter((m) => m.state === 'done').length;
    lines.push(`job ${j.name} (submitted ${j.submittedAt}): ${done}/${j.models.length} models done`);
    const w = Math.max(5, ...j.models.map((m) => m.name.length));
    for (const m of j.models) {
      const pct = m.total > 0 ? Math.floor((100 * m.step) / m.total) : 0;
      const who = m.state === 'running' && m.worker ? ` on ${m.worker}` : '';
      lines.push(`  ${m.name.padEnd(w)}  ${String(m.step).padStart(6)}/${m.total} steps (${String(pct).padStart(3)}%)  ${m.state}${who}${m.reason && m.state !== 'done' ? `: ${m.reason}` : ''}`);
    }
  }
  // A worker not seen for a while has died (or lost Redis); its segments return to the queue when their locks expire.
  lines.push(`workers: ${s.workers.length === 0 ? 'none' : ''}`);
  for (const w of s.workers.sort((a, b) => a.id.localeCompare(b.id))) {
    const stale = w.lastSeenSeconds > 10 ? ` — not seen for ${w.lastSeenSeconds.toFixed(0)} s (dead?)` : '';
    lines.push(`  ${w.id}  ${w.devices}  ${w.training.length > 0 ? `training ${w.training.join(', ')}` : 'idle'}${stale}`);
  }
  lines.push(`queue: ${Object.entries(s.queue).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n');
}
