/**
 * Text files → token stream → fixed-length language-modelling blocks.
 *
 * A file is read whole, normalised (WikiText only, see wikitext.ts), tokenized (cached on disk) into one stream.
 * Block i of length T = n_ctx: inputs = tokens[i*T, i*T+T), targets = tokens[i*T+1, i*T+T+1). Blocks do not overlap
 * and cross line/article boundaries; the tail that cannot fill a block (plus its shifted target) is unused, so a
 * stream of N tokens gives floor((N-1)/T) blocks.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { tokenizeBytesCached, type Preprocess, type TokenizeOptions } from './token-cache.js';
import type { TokenIds } from './tokenizer.js';
import { detokenizeWikitext, looksLikeWikitextPath, WIKITEXT_DETOKENIZE_VERSION } from './wikitext.js';

export type TextFormat = 'text' | 'wikitext';

export interface TextFileOptions extends Omit<TokenizeOptions, 'preprocess' | 'source'> {
  /** 'auto' (default): 'wikitext' when the file name says so (see looksLikeWikitextPath), else 'text'. */
  format?: TextFormat | 'auto';
  /** Undo WikiText's @-@, @,@, @.@ escapes. Default true for WikiText; not accepted for plain text. */
  detokenize?: boolean;
  /** Base for relative paths; default process.cwd(). */
  cwd?: string;
}

export interface TokenStream {
  /** Absolute path of the file. */
  path: string;
  format: TextFormat;
  detokenize: boolean;
  tokens: TokenIds;
  /** True when the tokens came from the token cache. */
  cached: boolean;
  seconds: number;
}

export function resolveDataPath(path: string, cwd = process.cwd(), role = 'data file'): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${role}: expected a file path, got ${JSON.stringify(path)}`);
  const abs = resolve(cwd, path);
  if (!existsSync(abs)) throw new Error(`${role} '${path}' not found (looked at ${abs}; relative paths are resolved against ${cwd})`);
  if (!statSync(abs).isFile()) throw new Error(`${role} '${path}' is not a regular file (${abs})`);
  return abs;
}

function chooseFormat(path: string, options: TextFileOptions): { format: TextFormat; detokenize: boolean } {
  const requested = options.format ?? 'auto';
  if (requested !== 'auto' && requested !== 'text' && requested !== 'wikitext') {
    throw new RangeError(`format must be 'auto', 'text' or 'wikitext', got ${JSON.stringify(requested)}`);
  }
  const format: TextFormat = requested === 'auto' ? (looksLikeWikitextPath(path) ? 'wikitext' : 'text') : requested;
  if (format === 'text' && options.detokenize) throw new RangeError(`detokenize applies to format 'wikitext' only (file ${path} is read as 'text')`);
  return { format, detokenize: format === 'wikitext' && (options.detokenize ?? true) };
}

/** Read, normalise and tokenize one file (through the token cache). */
export function loadTokenStream(path: string, options: TextFileOptions = {}, role = 'data file'): TokenStream {
  const abs = resolveDataPath(path, options.cwd, role);
  const { format, detokenize } = chooseFormat(abs, options);
  const preprocess: Preprocess | undefined = detokenize
    ? { key: { wikitextDetokenize: WIKITEXT_DETOKENIZE_VERSION }, apply: detokenizeWikitext }
    : undefined;
  const info = tokenizeBytesCached(readFileSync(abs), { ...options, preprocess, source: abs });
  return { path: abs, format, detokenize, tokens: info.tokens, cached: info.cached, seconds: info.seconds };
}

/** Non-overlapping (inputs, next-token targets) blocks of length nCtx over a token stream. */
export class BlockDataset {
  readonly numBlocks: number;

  constructor(readonly tokens: TokenIds, readonly nCtx: number, readonly name = 'dataset', readonly stream?: TokenStream) {
    if (!Number.isInteger(nCtx) || nCtx < 1) throw new RangeError(`n_ctx must be a positive integer, got ${nCtx}`);
    this.numBlocks = tokens.length > 0 ? Math.floor((tokens.length - 1) / nCtx) : 0;
    if (this.numBlocks === 0) {
      throw new RangeError(`${name} has ${tokens.length} tokens; one block of n_ctx=${nCtx} needs at least ${nCtx + 1}`);
    }
  }

  /** Copy block i into inputs/targets at `offset` (widening to int32, the kernels' token type). */
  fillBlock(i: number, inputs: Int32Array, targets: Int32Array, offset = 0): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.numBlocks) throw new RangeError(`${this.name}: block index ${i} out of range [0, ${this.numBlocks})`);
    const start = i * this.nCtx;
    inputs.set(this.tokens.subarray(start, start + this.nCtx), offset);
    targets.set(this.tokens.subarray(start + 1, start + this.nCtx + 1), offset);
  }

  block(i: number): { inputs: Int32Array; targets: Int32Array } {
    const inputs = new Int32Array(this.nCtx);
    const targets = new Int32Array(this.nCtx);
    this.fillBlock(i, inputs, targets);
    return { inputs, targets };
  }
}

/** One text file as blocks of nCtx tokens. */
export function loadTextDataset(path: string, nCtx: number, options: TextFileOptions = {}, role = 'data file'): BlockDataset {
  const stream = loadTokenStream(path, options, role);
  return new BlockDataset(stream.tokens, nCtx, `${role} ${stream.path}`, stream);
}

export interface TrainEvalFiles {
  train: string;
  eval?: string;
  nCtx: number;
}

/** Explicit train and (optional) eval files, same options for both. */
export function loadTrainEval(files: TrainEvalFiles, options: TextFileOptions = {}): { train: BlockDataset; eval?: BlockDataset } {
  const train = loadTextDataset(files.train, files.nCtx, options, 'train data file');
  if (files.eval === undefined) return { train };
  return { train, eval: loadTextDataset(files.eval, files.nCtx, options, 'eval data file') };
}
