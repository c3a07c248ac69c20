/**
 * Hugging Face LlamaConfig (config.json) ↔ our LlamaConfig.
 *
 * Our Llama is HF's LlamaForCausalLM with SiLU gating, no biases, no attention dropout and the default rotary
 * embedding. A config that needs anything else (rope_scaling, biases, another activation) is refused, naming the
 * field, its value and what is accepted. HF's defaults fill fields a config leaves out (rms_norm_eps 1e-6,
 * tie_word_embeddings false, num_key_value_heads = num_attention_heads, …).
 */
import type { LlamaConfig } from '../nn/llama-config.js';
import { resolveLlamaConfig } from '../nn/llama-config.js';

export class HfLlamaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HfLlamaError';
  }
}

/** Translate a parsed config.json. */
export function llamaConfigFromHf(cfg: unknown, file = 'config.json'): LlamaConfig {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new HfLlamaError(`${file}: expected a JSON object`);
  const c = cfg as Record<string, unknown>;
  const refuse = (key: string, accepted: string): never => {
    throw new HfLlamaError(`${file}: '${key}' = ${JSON.stringify(c[key])} is not supported (accepted: ${accepted})`);
  };
  if (c.model_type !== undefined && c.model_type !== 'llama') refuse('model_type', "'llama'");
  if (c.hidden_act !== undefined && c.hidden_act !== 'silu') refuse('hidden_act', "'silu'");
  if (c.attention_bias) refuse('attention_bias', 'false');
  if (c.mlp_bias) refuse('mlp_bias', 'false');
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) refuse('rope_scaling', 'null (scaled rotary frequencies, e.g. Llama 3\'s "llama3", are not implemented)');
  if (c.attention_dropout !== undefined && c.attention_dropout !== 0) refuse('attention_dropout', '0');
  const pick = (ours: string, theirs: string, fallback?: unknown): [string, unknown] => [ours, c[theirs] ?? fallback];
  const fields = Object.fromEntries([
    pick('n_layer', 'num_hidden_layers'),
    pick('n_head', 'num_attention_heads'),
    pick('n_kv_head', 'num_key_value_heads', c.num_attention_heads),
    pick('n_embd', 'hidden_size'),
    pick('head_dim', 'head_dim'),
    pick('intermediate_size', 'intermediate_size'),
    pick('n_ctx', 'max_position_embeddings', 2048),
    pick('vocab_size', 'vocab_size', 32000),
    pick('rope_theta', 'rope_theta', 10000),
    pick('rms_norm_eps', 'rms_norm_eps', 1e-6),
    pick('tie', 'tie_word_embeddings', false),
  ].filter(([, v]) => v !== undefined && v !== null));
  for (const [ours, theirs] of [['n_layer', 'num_hidden_layers'], ['n_head', 'num_attention_heads'], ['n_embd', 'hidden_size'], ['intermediate_size', 'intermediate_size']]) {
    if (fields[ours] === undefined) throw new HfLlamaError(`${file}: '${theirs}' is missing`);
  }
  try {
    return resolveLlamaConfig(fields, file);
  } catch (err) {
    throw new HfLlamaError((err as Error).message);
  }
}

/** config.json for a model Hugging Face's LlamaForCausalLM can load. */
export function llamaConfigToHf(config: LlamaConfig): Record<string, unknown> {
  const c = resolveLlamaConfig(config as unknown as Record<string, unknown>);
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0,
    head_dim: c.head_dim,
    hidden_act: 'silu',
    hidden_size: c.n_embd,
    initializer_range: 0.02,
    intermediate_size: c.intermediate_size,
    max_position_embeddings: c.n_ctx,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: c.n_head,
    num_hidden_layers: c.n_layer,
    num_key_value_heads: c.n_kv_head,
    pretraining_tp: 1,
    rms_norm_eps: c.rms_norm_eps,
    rope_scaling: null,
    rope_theta: c.rope_theta,
    tie_word_embeddings: c.tie,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: c.vocab_size,
  };
}
