/** `hydra submit CONFIG --queue URL --store DIR|s3://…`: put a grid on the cluster's queue as segments. */
import type { Command } from 'commander';
import { log, openCheckedStore, openQueue, queueFlags, type QueueFlags } from './cluster-common.js';

interface SubmitOptions extends QueueFlags {
  store: string;
  steps?: string;
  segmentSteps?: string;
}

export function register(program: Command): void {
  queueFlags(
    program
      .command('submit')
      .description('enqueue every model of a config file on a cluster queue, as segments of segment_steps steps')
      .argument('<config>', 'YAML or JSON config file (needs segment_steps, or --segment-steps)'),
  )
    .requiredOption('--store <dir|url>', 'the shared store the workers read data from and write checkpoints to (a directory, or s3://bucket/prefix)')
    .option('--steps <n>', 'override the training length: exactly n steps per model')
    .option('--segment-steps <n>', "override the config's segment_steps")
    .action(async (configFile: string, o: SubmitOptions) => {
      const { submitJob } = await import('../cluster/submit.js');
      const { segmentCount } = await import('../cluster/spec.js');
      const { redactRedisUrl } = await import('../cluster/redis.js');
      const { specFromConfig } = await import('./cluster-job.js');
      const store = await openCheckedStore(o.store, 'hydra submit', true);
      const spec = await specFromConfig(configFile, { steps: o.steps, segmentSteps: o.segmentSteps }, store, log);
      const redis = await openQueue(o);
      try {
        await submitJob(spec, store, redis);
      } finally {
        redis.disconnect();
      }
      const segments = spec.models.reduce((s, m) => s + segmentCount(m.totalSteps, spec.segmentSteps), 0);
      process.stdout.write(`submitted ${spec.name}: ${spec.models.length} models, ${segments} segments of up to ${spec.segmentSteps} steps, on ${redactRedisUrl(o.queue)}\n`);
    });
}
