/**
 * The per-model hyper-parameters: every setting that may differ between the models of one job. Each has one place
 * in the config file (its `path`) and may instead be listed in `grid` under its key; the grid is the cartesian
 * product of those lists. Keeping them in one table means the file sections, the grid, model names and results all
 * agree on names and on what values are accepted.
 */
import { GPT2_PRESETS } from '../nn/gpt2.js';
import {
  boolean,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  positiveNumber,
  seedInt,
  unitClosed,
  unitOpen,
  type Check,
} from './checks.js';

export type HValue = string | number | boolean;

export const HPARAM_KEYS = [
  'preset', 'n_layer', 'n_head', 'n_embd', 'n_ctx', 'vocab_size', 'dropout', 'tie',
  'optimizer', 'lr', 'weight_decay', 'beta1', 'beta2', 'eps', 'momentum', 'nesterov',
  'warmup_steps', 'decay', 'min_ratio',
  'batch_size', 'block_size', 'clip_norm', 'seed',
] as const;

export type HKey = (typeof HPARAM_KEYS)[number];
export type HParams = Partial<Record<HKey, HValue>>;

export interface HParamSpec {
  key: HKey;
  /** Where the value is written when it is not in the grid. */
  path: string;
  /** Abbreviation used in model names ('bs' in 'lr=3e-4,bs=8'). */
  short: string;
  check: Check<HValue>;
  /** What it means, for documentation and `--help`. */
  doc: string;
}

export const OPTIMIZER_KINDS = ['adamw', 'sgd'] as const;
export const DECAYS = ['constant', 'linear', 'cosine'] as const;

const spec = (key: HKey, path: string, short: string, check: Check<HValue>, doc: string): HParamSpec => ({ key, path, short, check, doc });

export const HPARAMS: readonly HParamSpec[] = [
  spec('preset', 'model.preset', 'model', oneOf(Object.keys(GPT2_PRESETS)), 'named GPT-2 shape'),
  spec('n_layer', 'model.n_layer', 'L', positiveInt, 'transformer blocks'),
  spec('n_head', 'model.n_head', 'H', positiveInt, 'attention heads'),
  spec('n_embd', 'model.n_embd', 'C', positiveInt, 'embedding width'),
  spec('n_ctx', 'model.n_ctx', 'n_ctx', positiveInt, 'position table size (longest context)'),
  spec('vocab_size', 'model.vocab_size', 'vocab', positiveInt, 'vocabulary size (>= 50257 for the GPT-2 tokenizer)'),
  spec('dropout', 'model.dropout', 'dropout', unitOpen, 'dropout probability'),
  spec('tie', 'model.tie', 'tie', boolean, 'tie the LM head to the token embedding'),
  spec('optimizer', 'optimizer.kind', 'opt', oneOf(OPTIMIZER_KINDS), 'optimizer'),
  spec('lr', 'optimizer.lr', 'lr', positiveNumber, 'peak learning rate'),
  spec('weight_decay', 'optimizer.weight_decay', 'wd', nonNegativeNumber, 'decoupled weight decay'),
  spec('beta1', 'optimizer.betas[0]', 'b1', unitOpen, 'AdamW beta1'),
  spec('beta2', 'optimizer.betas[1]', 'b2', unitOpen, 'AdamW beta2'),
  spec('eps', 'optimizer.eps', 'eps', positiveNumber, 'AdamW epsilon'),
  spec('momentum', 'optimizer.momentum', 'mom', unitOpen, 'SGD momentum'),
  spec('nesterov', 'optimizer.nesterov', 'nesterov', boolean, 'SGD Nesterov momentum'),
  spec('warmup_steps', 'schedule.warmup_steps', 'warmup', nonNegativeInt, 'linear warmup steps'),
  spec('decay', 'schedule.decay', 'decay', oneOf(DECAYS), 'decay after warmup'),
  spec('min_ratio', 'schedule.min_ratio', 'min_ratio', unitClosed, 'final rate as a fraction of lr'),
  spec('batch_size', 'batch_size', 'bs', positiveInt, 'sequences per minibatch (B)'),
  spec('block_size', 'block_size', 'T', positiveInt, 'tokens per sequence (T, <= n_ctx; default n_ctx)'),
  spec('clip_norm', 'clip_norm', 'clip', nonNegativeNumber, 'global-norm gradient clipping (0 = off)'),
  spec('seed', 'seed', 'seed', seedInt, 'seed of init, dropout and data order'),
];

const BY_KEY = new Map(HPARAMS.map((s) => [s.key, s]));
const BY_PATH = new Map(HPARAMS.map((s) => [s.path, s]));

export function hparamSpec(key: HKey): HParamSpec {
  return BY_KEY.get(key)!;
}

export function isHKey(key: string): key is HKey {
  return BY_KEY.has(key as HKey);
}

/** The spec stored at a config path ('optimizer.lr'), if any. */
export function hparamAtPath(path: string): HParamSpec | undefined {
  return BY_PATH.get(path);
}

/** Fields of a section ('model', 'optimizer', 'schedule' or '' for the top level) that hold hyper-parameters. */
export function sectionFields(section: string): string[] {
  const prefix = section ? `${section}.` : '';
  const out: string[] = [];
  for (const s of HPARAMS) {
    if (!s.path.startsWith(prefix)) continue;
    const rest = s.path.slice(prefix.length);
    if (rest.includes('.')) continue;
    const field = rest.replace(/\[\d+\]$/, '');
    if (!out.includes(field)) out.push(field);
  }
  return out;
}
