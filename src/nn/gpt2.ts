/** The GPT-2 family: build a chain of layers from a config, plus named presets. */
import { Embedding } from './embedding.js';
import { TransformerBlock } from './block.js';
import { FinalNorm } from './final-norm.js';
import { LmHead } from './lm-head.js';
import type { Gpt2Config } from './gpt2-config.js';
import type { ArchSpec, ModelFamily } from './family.js';
import type { Layer } from './layer.js';
import { collectParams, type Model } from './model.js';

export type { Gpt2Config } from './gpt2-config.js';

const GPT2_VOCAB = 50257;

type Shape = Pick<Gpt2Config, 'n_layer' | 'n_head' | 'n_embd' | 'n_ctx'> & Partial<Gpt2Config>;

/** Named shapes, from a test size to a 6-billion-parameter shape (GPT-J-like). */
export const GPT2_PRESETS: Record<string, Shape> = {
  'gpt2-tiny': { n_layer: 2, n_head: 2, n_embd: 64, n_ctx: 64 },
  'gpt2-mini': { n_layer: 4, n_head: 4, n_embd: 256, n_ctx: 256 },
  gpt2: { n_layer: 12, n_head: 12, n_embd: 768, n_ctx: 1024 },
  'gpt2-medium': { n_layer: 24, n_head: 16, n_embd: 1024, n_ctx: 1024 },
  'gpt2-large': { n_layer: 36, n_head: 20, n_embd: 1280, n_ctx: 1024 },
  'gpt2-xl': { n_layer: 48, n_head: 25, n_embd: 1600, n_ctx: 1024 },
  'gpt-6b': { n_layer: 28, n_head: 16, n_embd: 4096, n_ctx: 2048 },
};

/** A full config from a preset name plus overrides (GPT-2 defaults: vocab 50257, dropout 0.1, tied head). */
export function gpt2Config(preset: string, overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  const base = GPT2_PRESETS[preset];
  if (!base) throw new RangeError(`unknown model preset '${preset}' (accepted: ${Object.keys(GPT2_PRESETS).join(', ')})`);
  return validateGpt2Config({ vocab_size: GPT2_VOCAB, dropout: 0.1, tie: true, ...base, ...overrides });
}

export function validateGpt2Config(c: Gpt2Config, field = 'model'): Gpt2Config {
  const positiveInt = ['n_layer', 'n_head', 'n_embd', 'n_ctx', 'vocab_size'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`${field}.${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (c.n_embd % c.n_head !== 0) throw new RangeError(`${field}.n_embd=${c.n_embd} must be divisible by ${field}.n_head=${c.n_head}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`${field}.dropout must be in [0, 1), got ${c.dropout}`);
  if (typeof c.tie !== 'boolean') throw new RangeError(`${field}.tie must be true or false, got ${String(c.tie)}`);
  return c;
}

const GPT2_FIELDS = ['n_layer', 'n_head', 'n_embd', 'n_ctx', 'vocab_size', 'dropout', 'tie'] as const;

/** A config from plain fields: `preset` (optional) overridden by the shape fields; GPT-2's defaults fill the rest. */
export function resolveGpt2(fields: Readonly<Record<string, unknown>>, field = 'model'): Gpt2Config {
  for (const k of Object.keys(fields)) {
    if (k !== 'preset' && !(GPT2_FIELDS as readonly string[]).includes(k)) {
      throw new RangeError(`${field}.${k}: not a GPT-2 config field (accepted: preset, ${GPT2_FIELDS.join(', ')})`);
    }
  }
  const { preset, ...rest } = fields;
  if (preset !== undefined && (typeof preset !== 'string' || !GPT2_PRESETS[preset])) {
    throw new RangeError(`${field}.preset: unknown GPT-2 preset ${JSON.stringify(preset)} (accepted: ${Object.keys(GPT2_PRESETS).join(', ')})`);
  }
  const base = preset === undefined ? {} : GPT2_PRESETS[preset as string];
  const c = { vocab_size: GPT2_VOCAB, dropout: 0.1, tie: true, ...base, ...rest } as Gpt2Config;
  for (const k of ['n_layer', 'n_head', 'n_embd', 'n_ctx'] as const) {
    if (c[k] === undefined) throw new RangeError(`${field}.${k}: required without a preset (or give ${field}.preset)`);
  }
  return validateGpt2Config(c, field);
}

export function describeGpt2(c: Gpt2Config): string {
  return `gpt2(n_layer=${c.n_layer},n_head=${c.n_head},n_embd=${c.n_embd},n_ctx=${c.n_ctx},vocab=${c.vocab_size},dropout=${c.dropout},tie=${c.tie})`;
}

/** What determines bytes and cut points (dropout does not): the Model's `arch`, shown in plans. */
function archLine(c: Gpt2Config): string {
  return `gpt2(n_layer=${c.n_layer},n_head=${c.n_head},n_embd=${c.n_embd},n_ctx=${c.n_ctx},vocab=${c.vocab_size},tie=${c.tie})`;
}

/** Chain: embed, h.0 … h.(n-1), ln_f, lm_head. */
export function buildGpt2(config: Gpt2Config): Model {
  const c = validateGpt2Config(config);
  const layers: Layer[] = [new Embedding(0, c.vocab_size, c.n_ctx, c.n_embd, c.dropout)];
  for (let i = 0; i < c.n_layer; i++) layers.push(new TransformerBlock(layers.length, i, c.n_embd, c.n_head, c.n_layer, c.dropout));
  layers.push(new FinalNorm(layers.length, c.n_embd));
  layers.push(new LmHead(layers.length, c.vocab_size, c.n_embd, c.tie));
  return { arch: archLine(c), layers, params: collectParams(layers), vocab: c.vocab_size, nCtx: c.n_ctx };
}

export const gpt2Family: ModelFamily<Gpt2Config> = {
  name: 'gpt2',
  presets: GPT2_PRESETS,
  resolve: resolveGpt2,
  build: buildGpt2,
  describe: describeGpt2,
};

/** The ArchSpec of a GPT-2 (what train() takes): a config, or a preset name plus overrides. */
export function gpt2Arch(config: Gpt2Config): ArchSpec;
export function gpt2Arch(preset: string, overrides?: Partial<Gpt2Config>): ArchSpec;
export function gpt2Arch(c: Gpt2Config | string, overrides: Partial<Gpt2Config> = {}): ArchSpec {
  return { family: 'gpt2', config: typeof c === 'string' ? gpt2Config(c, overrides) : validateGpt2Config({ ...c, ...overrides }) };
}
