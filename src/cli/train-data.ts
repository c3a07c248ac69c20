/**
 * Data for `hydra train`: each text file tokenized once (through the token cache), cut into blocks once per
 * distinct block size, and wrapped per model as BatchSources (B = batch_size, T = block size) over the seeded loader.
 */
import type { BatchSource } from '../hydra/api.js';
import { ConfigError } from '../config/errors.js';
import type { DataConfig } from '../config/schema.js';
import { Loader } from '../data/loader.js';
import { BlockDataset, loadTokenStream, type TokenStream } from '../data/text-dataset.js';
import { formatSeconds } from '../report/format.js';

export interface TokenizedData {
  train: TokenStream;
  eval?: TokenStream;
}

export interface TokenizeDataOptions {
  cacheDir?: string;
  /** One line per file ('train data: … 12345 tokens (from cache)'). */
  log?: (line: string) => void;
}

export function describeStream(role: string, s: TokenStream): string {
  const how = s.cached ? 'from cache' : `tokenized in ${formatSeconds(s.seconds)}`;
  return `${role} data: ${s.path}: tokens: ${s.tokens.length} (${how})`;
}

export function tokenizeData(data: DataConfig, opts: TokenizeDataOptions = {}): TokenizedData {
  const load = (path: string, role: 'train' | 'eval') => {
    const s = loadTokenStream(path, { format: data.format, cacheDir: opts.cacheDir }, `data.${role}`);
    opts.log?.(describeStream(role, s));
    return s;
  };
  const train = load(data.train, 'train');
  return data.eval === undefined ? { train } : { train, eval: load(data.eval, 'eval') };
}

/** Block datasets keyed by block size, built on first use. */
export class BlockCache {
  private readonly cache = new Map<string, BlockDataset>();

  constructor(private readonly data: TokenizedData) {}

  get(role: 'train' | 'eval', T: number): BlockDataset {
    const stream = this.data[role];
    if (!stream) throw new Error(`no ${role} data`);
    const key = `${role}:${T}`;
    let ds = this.cache.get(key);
    if (!ds) {
      try {
        ds = new BlockDataset(stream.tokens, T, `data.${role} (${stream.path})`, stream);
      } catch (err) {
        throw new ConfigError(`data.${role}`, (err as Error).message);
      }
      this.cache.set(key, ds);
    }
    return ds;
  }
}

/** Adapter: the loader's batches as the engine's BatchSource, optionally limited to the first `maxSteps` batches. */
export function loaderSource(loader: Loader, maxSteps?: number): BatchSource {
  return {
    stepsPerEpoch: maxSteps === undefined ? loader.stepsPerEpoch : Math.min(maxSteps, loader.stepsPerEpoch),
    B: loader.batchSize,
    T: loader.T,
    batch(epoch, step) {
      const b = loader.batch(epoch, step);
      return { tokens: b.tokens, targets: b.targets };
    },
  };
}

/**
 * Training batches are shuffled by the model's seed; evaluation batches are in file order. Both drop the last
 * partial batch, because the engine runs every batch of a model at one shape (B, T).
 */
export function makeSources(
  blocks: BlockCache,
  hasEval: boolean,
  m: { batchSize: number; blockSize: number; seed: number; evalBatches?: number; where: string },
): { train: BatchSource; eval?: BatchSource } {
  const make = (role: 'train' | 'eval') => {
    const ds = blocks.get(role, m.blockSize);
    if (ds.numBlocks < m.batchSize) {
      throw new ConfigError(
        `data.${role}`,
        `${ds.stream?.path ?? ds.name} has ${ds.numBlocks} blocks of ${m.blockSize} tokens, fewer than batch_size ${m.batchSize} (model ${m.where}); use more text, a smaller batch_size or a smaller block_size`,
      );
    }
    return new Loader(ds, { batchSize: m.batchSize, seed: m.seed, shuffle: role === 'train', lastBatch: 'drop' });
  };
  const train = loaderSource(make('train'));
  return hasEval ? { train, eval: loaderSource(make('eval'), m.evalBatches) } : { train };
}
