/** The Llama family: the layer chain from a config (see llama-config.ts for the config, presets and checks). */
import type { ArchSpec, ModelFamily } from './family.js';
import type { Layer } from './layer.js';
import { LlamaBlock } from './llama-block.js';
import { describeLlama, LLAMA_PRESETS, resolveLlamaConfig, type LlamaConfig } from './llama-config.js';
import { LmHead } from './lm-head.js';
import { collectParams, type Model } from './model.js';
import { FinalRmsNorm } from './rms-norm.js';
import { EMBED_TOKENS, TokenEmbedding } from './token-embedding.js';

export type { LlamaConfig } from './llama-config.js';

/** A full config from a preset name plus overrides, e.g. llamaConfig('smollm2-135m', { n_layer: 4 }). */
export function llamaConfig(preset: string, overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return resolveLlamaConfig({ preset, ...overrides });
}

/** Chain: embed, layers.0 … layers.(n-1), norm, lm_head. */
export function buildLlama(config: LlamaConfig): Model {
  const c = resolveLlamaConfig(config as unknown as Record<string, unknown>);
  const layers: Layer[] = [new TokenEmbedding(0, c.vocab_size, c.n_ctx, c.n_embd)];
  for (let i = 0; i < c.n_layer; i++) layers.push(new LlamaBlock(layers.length, i, c));
  layers.push(new FinalRmsNorm(layers.length, c.n_embd, c.rms_norm_eps));
  layers.push(new LmHead(layers.length, c.vocab_size, c.n_embd, c.tie, EMBED_TOKENS));
  return { arch: describeLlama(c), layers, params: collectParams(layers), vocab: c.vocab_size, nCtx: c.n_ctx };
}

export const llamaFamily: ModelFamily<LlamaConfig> = {
  name: 'llama',
  presets: LLAMA_PRESETS,
  resolve: resolveLlamaConfig,
  build: buildLlama,
  describe: describeLlama,
};

/** The ArchSpec of a Llama (what train() takes): a preset name plus overrides, or a config. */
export function llamaArch(c: LlamaConfig | string, overrides: Partial<LlamaConfig> = {}): ArchSpec {
  return { family: 'llama', config: typeof c === 'string' ? llamaConfig(c, overrides) : resolveLlamaConfig({ ...c, ...overrides }) };
}
