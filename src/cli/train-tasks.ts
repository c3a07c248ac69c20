/** From a validated config to the engine's TrainTask[]: grid expansion, initial weights, data sources. */
import type { TrainTask, WeightSource } from '../hydra/api.js';
import { totalSteps } from '../hydra/job/model-job.js';
import type { HostTensor } from '../nn/host-tensor.js';
import type { Gpt2Config } from '../nn/gpt2-config.js';
import { expandGrid, type Variant } from '../config/grid.js';
import type { TrainConfig } from '../config/schema.js';
import { BlockCache, commonEvalBlocks, evalSource, tokenizeData, trainSource, type TokenizedData } from './train-data.js';

export interface InitWeights {
  config: Gpt2Config;
  /** Read by each model straight into its host tier (hfGpt2Weights), or tensors already in memory. */
  weights: WeightSource | Map<string, HostTensor>;
}

export interface BuiltJob {
  tasks: TrainTask[];
  /** Held-out blocks every model with that block size evaluates, by block size. */
  evalBlocks: Map<number, number>;
  variants: Variant[];
  /** Steps each model will take (for progress). */
  totals: { name: string; totalSteps: number }[];
  data: TokenizedData;
}

export interface BuildOptions {
  /** Pretrained weights loaded from config.initFrom. */
  init?: InitWeights;
  log?: (line: string) => void;
  cacheDir?: string;
  /** Already-tokenized data (tests); default: tokenize config.data through the cache. */
  data?: TokenizedData;
}

export function buildTasks(config: TrainConfig, opts: BuildOptions = {}): BuiltJob {
  const variants = expandGrid(config, opts.init?.config);
  const data = opts.data ?? tokenizeData(config.data, { cacheDir: opts.cacheDir, log: opts.log });
  const blocks = new BlockCache(data);
  const specs = variants.map((v) => ({ batchSize: v.spec.batchSize, blockSize: v.spec.blockSize, seed: v.spec.seed, where: v.name }));
  const trains = specs.map((m) => trainSource(blocks, m));
  const evalBlocks = new Map<number, number>();
  if (data.eval) {
    for (const T of new Set(specs.map((m) => m.blockSize))) {
      const sizes = specs.filter((m) => m.blockSize === T).map((m) => m.batchSize);
      evalBlocks.set(T, commonEvalBlocks(blocks.get('eval', T), sizes, config.data.evalTokens));
    }
  }
  const tasks = variants.map((v, i): TrainTask => {
    const s = v.spec;
    const n = evalBlocks.get(s.blockSize);
    const sources = { train: trains[i], ...(n === undefined ? {} : { eval: evalSource(blocks, specs[i], n) }) };
    return {
      name: v.name,
      model: s.model,
      weights: opts.init?.weights,
      optimizer: s.optimizer,
      schedule: s.schedule,
      clipNorm: s.clipNorm,
      ...sources,
      ...('steps' in config.length ? { steps: config.length.steps } : { epochs: config.length.epochs }),
      seed: s.seed,
      hparams: v.hparams,
    };
  });
  const totals = tasks.map((t) => ({ name: t.name, totalSteps: totalSteps(t) }));
  return { tasks, evalBlocks, variants, totals, data };
}
