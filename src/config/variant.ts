/**
 * One model of the job: its hyper-parameters resolved into the engine's configs (Gpt2Config, OptimizerConfig,
 * LrSchedule, ...) with defaults filled in and cross-field rules checked. Errors point at the field a value came
 * from — the section (optimizer.lr) or the grid entry (grid.lr[2]) — so grid combinations that make no sense are
 * reported where the user wrote them.
 */
import { gpt2Config, validateGpt2Config } from '../nn/gpt2.js';
import type { Gpt2Config } from '../nn/gpt2-config.js';
import type { ArchSpec } from '../nn/family.js';
import { getFamily } from '../nn/families.js';
import type { ModelVariant } from './schema.js';
import { ADAMW_DEFAULTS, SGD_DEFAULTS, validateOptimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { validateSchedule, type LrSchedule } from '../optim/schedule.js';
import { ConfigError } from './errors.js';
import { hparamSpec, type HKey, type HParams } from './hparams.js';

/** The GPT-2 BPE vocabulary: token ids go up to 50256, so a smaller embedding table cannot hold the data. */
export const GPT2_TOKENIZER_VOCAB = 50257;

export interface ModelSpec {
  model: ArchSpec;
  optimizer: OptimizerConfig;
  /** Absent: constant learning rate (the engine's default). */
  schedule?: LrSchedule;
  clipNorm: number;
  batchSize: number;
  /** Tokens per sequence (T); <= model.n_ctx. */
  blockSize: number;
  seed: number;
}

export interface ResolveContext {
  /** Where each value was written (e.g. 'grid.lr[2]'); defaults to the key's section path. */
  origin?: Partial<Record<HKey, string>>;
  /** Shape of the pretrained checkpoint (init.from); replaces preset/shape fields. */
  initShape?: Gpt2Config;
  /** A named model of `grid.model`: its fields make the model (instead of the model section's). */
  variant?: ModelVariant;
}

const ADAMW_ONLY: HKey[] = ['beta1', 'beta2', 'eps'];
const SGD_ONLY: HKey[] = ['momentum', 'nesterov'];

export function resolveModelSpec(v: HParams, ctx: ResolveContext = {}): ModelSpec {
  const where = (k: HKey) => ctx.origin?.[k] ?? hparamSpec(k).path;
  const { model, nCtx } = resolveArchitecture(v, ctx);
  const optimizer = resolveOptimizer(v, where);
  const blockSize = (v.block_size as number | undefined) ?? nCtx;
  if (blockSize > nCtx) {
    throw new ConfigError(where('block_size'), `block_size ${blockSize} exceeds the model's n_ctx ${nCtx} (its position table); use block_size <= ${nCtx}`);
  }
  if (v.batch_size === undefined) {
    throw new ConfigError('batch_size', 'required field missing: sequences per minibatch, e.g. batch_size: 8 (or grid: { batch_size: [8, 4] })');
  }
  return {
    model,
    optimizer,
    schedule: resolveSchedule(v),
    clipNorm: (v.clip_norm as number | undefined) ?? 0,
    batchSize: v.batch_size as number,
    blockSize,
    seed: (v.seed as number | undefined) ?? 0,
  };
}

/** The model: a GPT-2 from the model fields (of the section, the grid or a grid.model entry), or another family's. */
function resolveArchitecture(v: HParams, ctx: ResolveContext): { model: ArchSpec; nCtx: number } {
  const m = ctx.variant;
  if (!m || m.family === 'gpt2') {
    const origin = { ...ctx.origin };
    for (const k of Object.keys(m?.fields ?? {})) origin[k as HKey] = `${m!.path}.${k}`;
    const where = (k: HKey) => origin[k] ?? hparamSpec(k).path;
    const shape = resolveShape({ ...v, ...(m?.fields as HParams | undefined) }, ctx.initShape, where);
    return { model: { family: 'gpt2', config: shape }, nCtx: shape.n_ctx };
  }
  const family = getFamily(m.family, `${m.path}.family`);
  let config: object;
  try {
    config = family.resolve(m.fields, m.path);
  } catch (e) {
    const err = new ConfigError(m.path, e instanceof Error ? e.message : String(e));
    err.message = err.detail; // the family's message already names the field
    throw err;
  }
  const built = family.build(config);
  if (built.vocab < GPT2_TOKENIZER_VOCAB) {
    throw new ConfigError(m.path, `the model's vocabulary (${built.vocab}) is smaller than the GPT-2 tokenizer's ${GPT2_TOKENIZER_VOCAB}; the data's token ids would not fit its embedding`);
  }
  return { model: { family: m.family, config }, nCtx: built.nCtx };
}

function resolveShape(v: HParams, initShape: Gpt2Config | undefined, where: (k: HKey) => string): Gpt2Config {
  if (initShape) {
    if (initShape.vocab_size < GPT2_TOKENIZER_VOCAB) {
      throw new ConfigError('init.from', `the checkpoint's vocab_size ${initShape.vocab_size} is smaller than the GPT-2 tokenizer's ${GPT2_TOKENIZER_VOCAB}; the data's token ids would not fit its embedding`);
    }
    return validateGpt2Config({ ...initShape, dropout: (v.dropout as number | undefined) ?? initShape.dropout });
  }
  const overrides: Partial<Gpt2Config> = {};
  for (const k of ['n_layer', 'n_head', 'n_embd', 'n_ctx', 'vocab_size', 'dropout', 'tie'] as const) {
    if (v[k] !== undefined) (overrides as Record<string, unknown>)[k] = v[k];
  }
  let shape: Gpt2Config;
  if (v.preset !== undefined) {
    shape = gpt2Config(v.preset as string, {}); // shape checks below name the field that broke it
    shape = { ...shape, ...overrides };
  } else {
    const need = (['n_layer', 'n_head', 'n_embd', 'n_ctx'] as const).filter((k) => overrides[k] === undefined);
    if (need.length > 0) {
      throw new ConfigError('model', `required: a preset (model.preset) or a full shape; missing ${need.map((k) => `model.${k}`).join(', ')}`);
    }
    shape = { vocab_size: GPT2_TOKENIZER_VOCAB, dropout: 0.1, tie: true, ...overrides } as Gpt2Config;
  }
  if (shape.n_embd % shape.n_head !== 0) {
    const at = v.n_embd !== undefined ? where('n_embd') : v.n_head !== undefined ? where('n_head') : where('preset');
    throw new ConfigError(at, `n_embd ${shape.n_embd} must be divisible by n_head ${shape.n_head}`);
  }
  if (shape.vocab_size < GPT2_TOKENIZER_VOCAB) {
    throw new ConfigError(where('vocab_size'), `expected at least ${GPT2_TOKENIZER_VOCAB} (the GPT-2 tokenizer's vocabulary), got ${shape.vocab_size}`);
  }
  return validateGpt2Config(shape);
}

function resolveOptimizer(v: HParams, where: (k: HKey) => string): OptimizerConfig {
  const kind = (v.optimizer as 'adamw' | 'sgd' | undefined) ?? 'adamw';
  const foreign = kind === 'adamw' ? SGD_ONLY : ADAMW_ONLY;
  for (const k of foreign) {
    if (v[k] !== undefined) {
      const other = kind === 'adamw' ? 'sgd' : 'adamw';
      throw new ConfigError(where(k), `${k} applies only to optimizer.kind ${other}; this model uses ${kind}`);
    }
  }
  const num = (k: HKey) => v[k] as number | undefined;
  if (kind === 'adamw') {
    const d = ADAMW_DEFAULTS;
    return validateOptimizer({
      kind,
      lr: num('lr') ?? d.lr,
      beta1: num('beta1') ?? d.beta1,
      beta2: num('beta2') ?? d.beta2,
      eps: num('eps') ?? d.eps,
      weightDecay: num('weight_decay') ?? d.weightDecay,
    });
  }
  const d = SGD_DEFAULTS;
  return validateOptimizer({
    kind,
    lr: num('lr') ?? d.lr,
    momentum: num('momentum') ?? d.momentum,
    nesterov: (v.nesterov as boolean | undefined) ?? d.nesterov,
    weightDecay: num('weight_decay') ?? d.weightDecay,
  });
}

function resolveSchedule(v: HParams): LrSchedule | undefined {
  if (v.warmup_steps === undefined && v.decay === undefined && v.min_ratio === undefined) return undefined;
  return validateSchedule({
    warmupSteps: (v.warmup_steps as number | undefined) ?? 0,
    decay: (v.decay as LrSchedule['decay'] | undefined) ?? 'constant',
    minRatio: (v.min_ratio as number | undefined) ?? 0,
  });
}
