/**
 * What the cluster commands (submit, worker, status, results) share: the --queue flags and start-up checks. Cluster
 * modules (BullMQ, ioredis, the AWS SDK) are imported when a cluster command runs, so `hydra train` does not load them.
 */
import { Option, type Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Store } from '../cluster/store.js';

export interface QueueFlags {
  queue: string;
  redisAttempts?: string;
}

export function queueFlags(cmd: Command): Command {
  return cmd
    // From the environment too: a password on the command line is readable by every local user (ps, /proc) and
    // lands in shell history.
    .addOption(
      new Option('--queue <url>', 'the Redis of the cluster: redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS (with a password, prefer the env variable)')
        .env('HYDRA_QUEUE')
        .makeOptionMandatory(),
    )
    .option('--redis-attempts <n>', 'connection attempts (exponential backoff from 0.5 s) before giving up', '6');
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Connected to Redis (with retries) and checked (noeviction), ready for BullMQ. */
export async function openQueue(o: QueueFlags): Promise<Redis> {
  const attempts = Number(o.redisAttempts ?? '6');
  if (!(Number.isInteger(attempts) && attempts >= 1)) throw new Error(`--redis-attempts: expected a whole number ≥ 1, got '${o.redisAttempts}'`);
  const { openQueueConnection } = await import('../cluster/redis.js');
  return openQueueConnection(o.queue, { attempts, log });
}

/** The store, checked writable when the command writes to it. */
export async function openCheckedStore(where: string, who: string, writes: boolean): Promise<Store> {
  const { checkWritable, openStore } = await import('../cluster/store.js');
  const store = await openStore(where);
  if (writes) await checkWritable(store, who);
  return store;
}
