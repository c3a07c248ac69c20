/**
 * Hugging Face GPT2Config (config.json) ↔ our Gpt2Config.
 *
 * Our GPT-2 is HF's with: tanh GELU ("gelu_new"), LayerNorm eps 1e-5, MLP width 4·n_embd, scaled attention, and one
 * dropout probability applied to embeddings, the attention output projection and the MLP output (HF's embd_pdrop
 * and resid_pdrop). HF's attn_pdrop (dropout on attention probabilities) is not modelled. A config that needs
 * anything else is refused, naming the field, its value and what is accepted.
 */
import type { Gpt2Config } from '../nn/gpt2-config.js';
import { validateGpt2Config } from '../nn/gpt2.js';

export class HfGpt2Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HfGpt2Error';
  }
}

const GPT2_EOT = 50256;

function intField(cfg: Record<string, unknown>, key: string, file: string): number {
  const v = cfg[key];
  if (!Number.isInteger(v) || (v as number) < 1) throw new HfGpt2Error(`${file}: '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function probField(cfg: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new HfGpt2Error(`${file}: '${key}' must be a probability in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}

export interface HfConfigOptions {
  /** Override the dropout probability (fine-tuning recipes often choose their own). */
  dropout?: number;
}

/** Translate a parsed config.json; `warnings` lists what was read but cannot be honoured exactly. */
export function gpt2ConfigFromHf(cfg: unknown, file = 'config.json', options: HfConfigOptions = {}): { config: Gpt2Config; warnings: string[] } {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new HfGpt2Error(`${file}: expected a JSON object`);
  const c = cfg as Record<string, unknown>;
  const warnings: string[] = [];
  const refuse = (key: string, accepted: string): never => {
    throw new HfGpt2Error(`${file}: '${key}' = ${JSON.stringify(c[key])} is not supported (accepted: ${accepted})`);
  };
  if (c.model_type !== undefined && c.model_type !== 'gpt2') refuse('model_type', "'gpt2'");
  if (c.activation_function !== undefined && c.activation_function !== 'gelu_new' && c.activation_function !== 'gelu_pytorch_tanh') {
    refuse('activation_function', "'gelu_new' or 'gelu_pytorch_tanh' (the tanh GELU)");
  }
  if (c.layer_norm_epsilon !== undefined && c.layer_norm_epsilon !== 1e-5) refuse('layer_norm_epsilon', '1e-5');
  if (c.scale_attn_weights !== undefined && c.scale_attn_weights !== true) refuse('scale_attn_weights', 'true');
  if (c.scale_attn_by_inverse_layer_idx) refuse('scale_attn_by_inverse_layer_idx', 'false');
  if (c.add_cross_attention) refuse('add_cross_attention', 'false');
  const n_embd = intField(c, 'n_embd', file);
  if (c.n_inner !== undefined && c.n_inner !== null && c.n_inner !== 4 * n_embd) refuse('n_inner', `null or 4 * n_embd = ${4 * n_embd}`);

  const positionsKey = c.n_positions !== undefined ? 'n_positions' : 'n_ctx';
  const n_ctx = intField(c, positionsKey, file);
  if (positionsKey === 'n_positions' && c.n_ctx !== undefined && c.n_ctx !== n_ctx) {
    warnings.push(`n_ctx=${JSON.stringify(c.n_ctx)} differs from n_positions=${n_ctx}; using n_positions (the position table size)`);
  }
  const resid = probField(c, 'resid_pdrop', file) ?? 0.1;
  const embd = probField(c, 'embd_pdrop', file) ?? 0.1;
  const attn = probField(c, 'attn_pdrop', file) ?? 0.1;
  let dropout = resid;
  if (options.dropout !== undefined) {
    dropout = options.dropout;
  } else {
    if (embd !== resid) warnings.push(`embd_pdrop=${embd} differs from resid_pdrop=${resid}; using ${resid} for both`);
    if (attn !== 0) warnings.push(`attn_pdrop=${attn} (dropout on attention probabilities) is not modelled; dropout=${dropout} applies to embeddings, attention output and MLP output`);
  }
  const tie = c.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') refuse('tie_word_embeddings', 'true or false');
  let config: Gpt2Config;
  try {
    config = validateGpt2Config({
      n_layer: intField(c, 'n_layer', file),
      n_head: intField(c, 'n_head', file),
      n_embd,
      n_ctx,
      vocab_size: intField(c, 'vocab_size', file),
      dropout,
      tie: tie as boolean,
    });
  } catch (err) {
    throw new HfGpt2Error(`${file}: ${(err as Error).message}`);
  }
  return { config, warnings };
}

/** config.json for a model Hugging Face's GPT2LMHeadModel can load. */
export function gpt2ConfigToHf(config: Gpt2Config): Record<string, unknown> {
  const c = validateGpt2Config(config);
  const hf: Record<string, unknown> = {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0, // we never drop attention probabilities; say so
    embd_pdrop: c.dropout,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: c.n_ctx,
    n_embd: c.n_embd,
    n_head: c.n_head,
    n_inner: null,
    n_layer: c.n_layer,
    n_positions: c.n_ctx,
    resid_pdrop: c.dropout,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: c.tie,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: c.vocab_size,
  };
  // GPT-2's end-of-text token doubles as BOS/EOS; only meaningful when the vocabulary contains it.
  if (c.vocab_size > GPT2_EOT) Object.assign(hf, { bos_token_id: GPT2_EOT, eos_token_id: GPT2_EOT });
  return hf;
}
