/**
 * A child process for the full-disk tests (run under a file-size limit): `hydra train CONFIG` through runTrain with
 * the fake engine, saving 2 MiB of "weights" per model; with `--noisy-events` the engine also logs 4 KiB events, so
 * events.jsonl outgrows the limit mid-job. Exits with the status the real command would.
 */
import { writeSafetensors } from '../../src/io/safetensors.js';
import type { HydraEvent, TrainOptions, TrainTask } from '../../src/hydra/api.js';
import { exitStatus, runTrain } from '../../src/cli/train-run.js';
import { fakeTrain } from './fake-engine.js';

const [configFile, ...rest] = process.argv.slice(2);
const noisy = rest.includes('--noisy-events');
const engine = fakeTrain();
const train = (tasks: TrainTask[], options: TrainOptions) =>
  engine(tasks, {
    ...options,
    onEvent: (e: HydraEvent) => {
      options.onEvent?.(e);
      if (noisy && e.type === 'step') options.onEvent?.({ type: 'log', t: 0, message: 'x'.repeat(4096) });
    },
  });
const outcome = await runTrain(configFile, {}, {
  train,
  stdout: process.stdout,
  stderr: process.stderr,
  progressMode: 'lines',
  cacheDir: process.env.HYDRA_TEST_CACHE,
  saveModel: (dir) => writeSafetensors(`${dir}/model.safetensors`, { w: { shape: [512 * 1024], data: new Float32Array(512 * 1024) } }),
});
process.exitCode = exitStatus(outcome);
