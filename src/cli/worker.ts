/**
 * `hydra worker --queue URL --store DIR|s3://… --devices cpu:2x1 --device-memory 512MiB [--models K]`: take segments
 * from the queue and train them on this machine until stopped. SIGTERM / Ctrl-C: stop taking segments, finish the
 * ones held, leave (a second signal leaves at once; the held segments are retried elsewhere once their locks expire).
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDeviceSpec } from '../config/schema.js';
import { size } from '../config/sizes.js';
import { log, openCheckedStore, openQueue, queueFlags, type QueueFlags } from './cluster-common.js';

interface WorkerCommandOptions extends QueueFlags {
  store: string;
  devices: string;
  deviceMemory: string;
  hostMemory?: string;
  models?: string;
  workDir: string;
  lockSeconds: string;
  name?: string;
}

function positive(flag: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) throw new Error(`${flag}: expected a ${integer ? 'whole number' : 'number'} > 0, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  queueFlags(program.command('worker').description("train segments from a cluster queue on this machine's devices until stopped"))
    .requiredOption('--store <dir|url>', 'the shared store (a directory every worker sees, or s3://bucket/prefix)')
    .requiredOption('--devices <spec>', "this machine's devices: 'cpu:NxT', 'js:N' or 'webgpu:N'")
    .requiredOption('--device-memory <size>', "per-device memory budget, e.g. '512MiB'")
    .option('--host-memory <size>', "host memory budget, e.g. '8GiB'")
    .option('--models <k>', 'segments held and trained together (default: the number of devices)')
    .option('--work-dir <dir>', 'local scratch and cache directory', '.hydra/worker')
    .option('--lock-seconds <s>', 'lock of a held segment: a dead worker\'s segments are retried after this', '30')
    .option('--name <id>', 'worker name in status (default host:pid)')
    .action(async (o: WorkerCommandOptions) => {
      const { train } = await import('../index.js');
      const { ClusterWorker } = await import('../cluster/worker.js');
      const { materialiseSpec } = await import('./cluster-job.js');
      const devices = parseDeviceSpec(o.devices, '--devices');
      size(o.deviceMemory, '--device-memory');
      if (o.hostMemory !== undefined) size(o.hostMemory, '--host-memory');
      const deviceCount = Number(/:(\d+)/.exec(devices)?.[1] ?? '1');
      const models = o.models === undefined ? deviceCount : positive('--models', o.models, true);
      const lockMs = Math.round(1000 * positive('--lock-seconds', o.lockSeconds, false));
      const workDir = resolve(o.workDir);
      mkdirSync(workDir, { recursive: true });
      const store = await openCheckedStore(o.store, o.name ?? `worker ${process.pid}`, true);
      const redis = await openQueue(o);
      const worker = new ClusterWorker({
        redis, store, train, devices, deviceMemory: o.deviceMemory, hostMemory: o.hostMemory, models, lockMs, workDir,
        planDir: resolve(workDir, 'plans'), worker: o.name, log,
        materialise: (spec) => materialiseSpec(spec, { store, cacheDir: workDir, devices, deviceMemory: o.deviceMemory, log }),
      });
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          log(`${signal}: leaving now; held segments return to the queue when their locks expire`);
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopping = true;
        log(`${signal}: finishing the segments held, then leaving (again to leave at once)`);
        worker.close().catch((e: unknown) => log(`closing the worker failed: ${e instanceof Error ? e.message : String(e)}`));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await worker.run();
      } finally {
        redis.disconnect(); // also when run() throws: an open connection would keep the process alive
      }
    });
}
