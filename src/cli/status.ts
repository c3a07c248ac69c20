/** `hydra status --queue URL [--job NAME] [--json]`: every model's progress, state and worker; workers; the queue. */
import type { Command } from 'commander';
import { openQueue, queueFlags, type QueueFlags } from './cluster-common.js';

export function register(program: Command): void {
  queueFlags(program.command('status').description("show a cluster's jobs, models, workers and queue"))
    .option('--job <name>', 'only this job')
    .option('--json', 'print JSON instead of a table')
    .action(async (o: QueueFlags & { job?: string; json?: boolean }) => {
      const { readStatus, renderStatus } = await import('../cluster/status.js');
      const redis = await openQueue(o);
      try {
        const s = await readStatus(redis, o.job);
        process.stdout.write(o.json ? `${JSON.stringify(s, null, 1)}\n` : `${renderStatus(s)}\n`);
      } finally {
        redis.disconnect();
      }
    });
}
