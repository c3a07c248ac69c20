/**
 * GPT-2's layers against central finite differences (the suite: gradcheck-suite.ts): embedding, a transformer block
 * and the final LayerNorm with dropout on, the fused head tied and untied, a whole tied model through the loss.
 */
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { gradcheckSuite } from './gradcheck-suite.js';

gradcheckSuite({
  name: 'gradcheck',
  build: (tie, dropout) => buildGpt2({ n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 6, vocab_size: 11, dropout, tie }),
  dropout: 0.25,
  C: 8,
  V: 11,
  layers: ['embed', 'h.0', 'ln_f'],
  tiedWeight: 'wte.weight',
  headChunkRows: 3,
  wholeModel: ['wte.weight', 'wpe.weight', 'h.1.attn.c_attn.weight', 'h.0.mlp.c_fc.bias', 'ln_f.weight'],
});
