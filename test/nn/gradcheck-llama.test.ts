/**
 * The Llama layers against central finite differences (the suite: gradcheck-suite.ts): token embedding, a decoder
 * layer (RMSNorm, rotary embedding, grouped-query attention with n_kv_head < n_head, SwiGLU), the final RMSNorm, the
 * head tied and untied — and a whole tied model through the loss.
 */
import { buildLlama, llamaConfig } from '../../src/nn/llama.js';
import { EMBED_TOKENS } from '../../src/nn/token-embedding.js';
import { gradcheckSuite } from './gradcheck-suite.js';

const C = 16, V = 11;

gradcheckSuite({
  name: 'gradcheck (llama)',
  // rope_theta 100 turns the rotary angles by whole radians over 5 positions (10000 would barely rotate them).
  build: (tie) => buildLlama(llamaConfig('llama-tiny', { n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: C, intermediate_size: 24, n_ctx: 6, vocab_size: V, rope_theta: 100, tie })),
  dropout: 0,
  C,
  V,
  layers: ['embed', 'layers.0', 'norm'],
  tiedWeight: EMBED_TOKENS,
  headChunkRows: 4,
  wholeModel: [EMBED_TOKENS, 'layers.1.self_attn.k_proj.weight', 'layers.0.mlp.gate_proj.weight', 'layers.0.input_layernorm.weight', 'norm.weight'],
});
