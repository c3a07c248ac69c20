/**
 * Llama family configuration and its named shapes. Field names follow hydra-dl's GPT-2 config where the meaning is
 * the same (n_layer, n_head, n_embd, n_ctx, vocab_size, tie) and Hugging Face's LlamaConfig otherwise.
 */
export interface LlamaConfig {
  n_layer: number;
  /** Query heads. */
  n_head: number;
  /** Key/value heads (grouped-query attention: n_head is a multiple of it; equal to n_head is plain multi-head). */
  n_kv_head: number;
  /** Hidden size. */
  n_embd: number;
  /** Per-head size (HF head_dim; n_embd / n_head unless set). Even: the rotary embedding rotates pairs. */
  head_dim: number;
  /** SwiGLU inner size. */
  intermediate_size: number;
  /** Longest sequence (HF max_position_embeddings); nothing is allocated per position. */
  n_ctx: number;
  vocab_size: number;
  rope_theta: number;
  rms_norm_eps: number;
  /** LM head tied to the token embedding (`embed_tokens.weight`). */
  tie: boolean;
}

type Shape = Omit<LlamaConfig, 'head_dim'> & { head_dim?: number };

/**
 * Real shapes (from their Hugging Face config.json files) and a test size. The Llama-3.2-1B entry is the shape only:
 * that checkpoint also scales its rotary frequencies ("llama3" rope_scaling), which hydra-dl does not implement.
 */
export const LLAMA_PRESETS: Record<string, Shape> = {
  'llama-tiny': { n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 64, intermediate_size: 160, n_ctx: 64, vocab_size: 50257, rope_theta: 10000, rms_norm_eps: 1e-5, tie: true },
  'smollm2-135m': { n_layer: 30, n_head: 9, n_kv_head: 3, n_embd: 576, intermediate_size: 1536, n_ctx: 8192, vocab_size: 49152, rope_theta: 100000, rms_norm_eps: 1e-5, tie: true },
  'smollm2-360m': { n_layer: 32, n_head: 15, n_kv_head: 5, n_embd: 960, intermediate_size: 2560, n_ctx: 8192, vocab_size: 49152, rope_theta: 100000, rms_norm_eps: 1e-5, tie: true },
  'tinyllama-1.1b': { n_layer: 22, n_head: 32, n_kv_head: 4, n_embd: 2048, intermediate_size: 5632, n_ctx: 2048, vocab_size: 32000, rope_theta: 10000, rms_norm_eps: 1e-5, tie: false },
  'llama-3.2-1b': { n_layer: 16, n_head: 32, n_kv_head: 8, n_embd: 2048, head_dim: 64, intermediate_size: 8192, n_ctx: 131072, vocab_size: 128256, rope_theta: 500000, rms_norm_eps: 1e-5, tie: true },
};

/** Defaults for fields a custom shape leaves out (GPT-2's vocabulary: from scratch, text is tokenised with its BPE). */
export const LLAMA_DEFAULTS = { n_ctx: 2048, vocab_size: 50257, rope_theta: 10000, rms_norm_eps: 1e-5, tie: false } as const;

const FIELDS = ['n_layer', 'n_head', 'n_kv_head', 'n_embd', 'head_dim', 'intermediate_size', 'n_ctx', 'vocab_size', 'rope_theta', 'rms_norm_eps', 'tie'] as const;

/**
 * A complete, checked config from plain fields: `preset` (optional) overridden by the other fields; n_kv_head
 * defaults to n_head, head_dim to n_embd / n_head, intermediate_size to Llama's rule (8/3·n_embd rounded up to 256).
 * Errors name `${field}.<key>`, the value and what is accepted.
 */
export function resolveLlamaConfig(fields: Readonly<Record<string, unknown>>, field = 'model'): LlamaConfig {
  const { preset, ...rest } = fields;
  for (const k of Object.keys(rest)) {
    if (!(FIELDS as readonly string[]).includes(k)) throw new RangeError(`${field}.${k}: unknown Llama field (accepted: preset, ${FIELDS.join(', ')})`);
  }
  let base: Partial<Shape> = {};
  if (preset !== undefined) {
    if (typeof preset !== 'string' || !LLAMA_PRESETS[preset]) {
      throw new RangeError(`${field}.preset: unknown Llama preset ${JSON.stringify(preset)} (accepted: ${Object.keys(LLAMA_PRESETS).join(', ')})`);
    }
    base = LLAMA_PRESETS[preset];
  }
  const merged = { ...LLAMA_DEFAULTS, ...base, ...rest } as Record<string, unknown>;
  const int = (k: string): number => {
    const v = merged[k];
    if (!Number.isInteger(v) || (v as number) < 1) throw new RangeError(`${field}.${k} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const n_layer = int('n_layer'), n_head = int('n_head'), n_embd = int('n_embd');
  merged.n_kv_head ??= n_head;
  merged.intermediate_size ??= 256 * Math.ceil((8 * n_embd) / 3 / 256);
  if (merged.head_dim === undefined) {
    if (n_embd % n_head !== 0) throw new RangeError(`${field}.n_embd=${n_embd} must be divisible by ${field}.n_head=${n_head} (or set ${field}.head_dim)`);
    merged.head_dim = n_embd / n_head;
  }
  const n_kv_head = int('n_kv_head'), head_dim = int('head_dim');
  if (n_head % n_kv_head !== 0) throw new RangeError(`${field}.n_head=${n_head} must be a multiple of ${field}.n_kv_head=${n_kv_head} (grouped-query attention)`);
  if (head_dim % 2 !== 0) throw new RangeError(`${field}.head_dim must be even (the rotary embedding rotates pairs), got ${head_dim}`);
  const num = (k: string, ok: (v: number) => boolean, what: string): number => {
    const v = merged[k];
    if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${field}.${k} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const rope_theta = num('rope_theta', (v) => v > 0 && Number.isFinite(v), 'a positive number');
  const rms_norm_eps = num('rms_norm_eps', (v) => v > 0 && v < 1, 'a number in (0, 1)');
  if (typeof merged.tie !== 'boolean') throw new RangeError(`${field}.tie must be true or false, got ${JSON.stringify(merged.tie)}`);
  return {
    n_layer, n_head, n_kv_head, n_embd, head_dim, intermediate_size: int('intermediate_size'), n_ctx: int('n_ctx'),
    vocab_size: int('vocab_size'), rope_theta, rms_norm_eps, tie: merged.tie,
  };
}

export function describeLlama(c: LlamaConfig): string {
  return `llama(n_layer=${c.n_layer},n_head=${c.n_head},n_kv_head=${c.n_kv_head},n_embd=${c.n_embd},head_dim=${c.head_dim},` +
    `intermediate=${c.intermediate_size},n_ctx=${c.n_ctx},vocab=${c.vocab_size},rope_theta=${c.rope_theta},eps=${c.rms_norm_eps},tie=${c.tie})`;
}
