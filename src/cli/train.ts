/** `hydra train CONFIG.(yaml|json)`: train a grid of models described by a config file (see src/config/schema.ts). */
import type { Command } from 'commander';
import { hfGpt2Weights } from '../io/hf-gpt2.js';
import { saveModelWeights } from '../io/hf-families.js';
import { train } from '../hydra/job/train.js';
import { previewPlacement } from '../hydra/job/preview.js';
import { exitStatus, runTrain, type TrainRunFlags } from './train-run.js';
import { parseDashboardFlag } from '../dashboard/job-watch.js';

interface TrainCommandOptions {
  devices?: string;
  deviceMemory?: string;
  hostMemory?: string;
  policy?: string;
  activations?: string;
  out?: string;
  steps?: string;
  dryRun?: boolean;
  progress?: 'bars' | 'lines';
  resume?: boolean;
  dashboard?: string | boolean;
  dashboardHost?: string;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train every model of a config file (grid of hyper-parameters) at once with Hydra')
    .argument('<config>', 'YAML or JSON config file (e.g. examples/grid-tiny.yaml)')
    .option('--devices <spec>', "override devices: 'cpu:NxT', 'js:N' or 'webgpu:N'")
    .option('--device-memory <size>', "override the per-device memory budget, e.g. '512MiB'")
    .option('--host-memory <size>', "override the host memory budget, e.g. '8GiB'")
    .option('--policy <name>', 'override the scheduling policy (sharded-lrtf, round-robin, random, model-lrtf, pipeline)')
    .option('--activations <mode>', "override how backward tasks get their shard's activations: 'recompute' (default) or 'offload' (stash them in RAM when it fits)")
    .option('--out <dir>', 'override the output directory (relative to the current directory)')
    .option('--steps <n>', 'override the training length: exactly n steps per model')
    .option('--progress <mode>', "progress display: 'bars' or 'lines' (default: bars on a terminal, lines otherwise)")
    .option('--dry-run', 'validate the config, list the models and print where their state would live (RAM, disk), without training')
    .option('--resume', 'continue each model from its checkpoint in <out_dir>/checkpoints (written when a job is stopped, or every checkpoint_every steps)')
    .option('--dashboard [port]', 'serve a live dashboard of the job on 127.0.0.1 (default port 7700; 0: any free port)')
    .option('--dashboard-host <addr>', 'bind the dashboard to this address instead (then every request needs the token it prints)')
    .action(async (configFile: string, o: TrainCommandOptions) => {
      if (o.progress !== undefined && o.progress !== 'bars' && o.progress !== 'lines') {
        throw new Error(`--progress: expected 'bars' or 'lines', got '${String(o.progress)}'`);
      }
      const flags: TrainRunFlags = {
        devices: o.devices,
        deviceMemory: o.deviceMemory,
        hostMemory: o.hostMemory,
        policy: o.policy,
        activations: o.activations,
        out: o.out,
        steps: o.steps,
        dryRun: o.dryRun,
        resume: o.resume,
        dashboard: parseDashboardFlag(o.dashboard, o.dashboardHost),
      };
      const outcome = await runTrain(configFile, flags, {
        train,
        preview: previewPlacement,
        stdout: process.stdout,
        stderr: process.stderr,
        progressMode: o.progress,
        handleSignals: true,
        loadInit: async (dir) => {
          // Checked now (config, tensor names and shapes); each model reads the weights into its host tier itself.
          const m = await hfGpt2Weights(dir);
          return { config: m.config, weights: m.source, warnings: m.warnings };
        },
        saveModel: saveModelWeights,
      });
      process.exitCode = exitStatus(outcome);
    });
}
