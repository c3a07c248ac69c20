/**
 * Data for `hydra train`: each text file tokenized once (through the token cache), cut into blocks once per
 * distinct block size, and wrapped per model as BatchSources (B = batch_size, T = block size) over the seeded loader.
 *
 * Evaluation is comparable across the grid: every model with the same block size evaluates exactly the same
 * held-out blocks, in file order — the first N, with N a multiple of every batch size in the grid (the engine runs
 * every batch of a model at one shape, so a model cannot evaluate a partial batch).
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
  /** One line per file ('train data: … tokens: 12345 (from cache)'). */
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

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * How many held-out blocks of length T every model evaluates: all blocks (or `evalTokens / T` of them), rounded
 * down to a multiple of every batch size used with this T.
 */
export function commonEvalBlocks(ds: BlockDataset, batchSizes: number[], evalTokens?: number): number {
  const lcm = batchSizes.reduce((a, b) => (a / gcd(a, b)) * b, 1);
  const available = evalTokens === undefined ? ds.numBlocks : Math.min(ds.numBlocks, Math.floor(evalTokens / ds.nCtx));
  const n = Math.floor(available / lcm) * lcm;
  if (n === 0) {
    const what = evalTokens === undefined ? `${ds.stream?.path ?? ds.name} has ${ds.numBlocks} blocks` : `data.eval_tokens ${evalTokens} gives ${available} blocks`;
    throw new ConfigError(
      'data.eval',
      `${what} of ${ds.nCtx} tokens; every model must evaluate the same blocks in whole batches, which needs at least ${lcm} (a multiple of every batch_size: ${[...new Set(batchSizes)].join(', ')}). Use a longer eval file, a larger eval_tokens or smaller batch sizes`,
    );
  }
  return n;
}

export interface SourceSpec {
  batchSize: number;
  blockSize: number;
  seed: number;
  /** Model name, for messages. */
  where: string;
}

/** Training batches: shuffled by the model's seed, the last partial batch dropped (one shape per model). */
export function trainSource(blocks: BlockCache, m: SourceSpec): BatchSource {
  const ds = blocks.get('train', m.blockSize);
  if (ds.numBlocks < m.batchSize) {
    throw new ConfigError(
      'data.train',
      `${ds.stream?.path ?? ds.name} has ${ds.numBlocks} blocks of ${m.blockSize} tokens, fewer than batch_size ${m.batchSize} (model ${m.where}); use more text, a smaller batch_size or a smaller block_size`,
    );
  }
  return loaderSource(new Loader(ds, { batchSize: m.batchSize, seed: m.seed, shuffle: true, lastBatch: 'drop' }));
}

/** Evaluation batches: the first `evalBlocks` held-out blocks (from commonEvalBlocks), in file order. */
export function evalSource(blocks: BlockCache, m: SourceSpec, evalBlocks: number): BatchSource {
  const loader = new Loader(blocks.get('eval', m.blockSize), { batchSize: m.batchSize, shuffle: false, lastBatch: 'drop' });
  return loaderSource(loader, evalBlocks / m.batchSize);
}
