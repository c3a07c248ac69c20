/** GPT-2 family configuration. Field names follow Hugging Face's GPT2Config where one exists. */
export interface Gpt2Config {
  n_layer: number;
  n_head: number;
  n_embd: number;
  /** Context length (size of the position table). */
  n_ctx: number;
  vocab_size: number;
  /** Dropout probability on embeddings, attention output projection and MLP output (0 disables). */
  dropout: number;
  /** Tie the LM head to the token embedding (`wte.weight`), as GPT-2 does. */
  tie: boolean;
}
