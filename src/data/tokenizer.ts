/**
 * GPT-2's byte-level BPE (`r50k_base`, 50257 tokens, end-of-text 50256) through the `gpt-tokenizer` package.
 *
 * Corpus text is encoded as plain text: a literal "<|endoftext|>" in a file becomes ordinary tokens, never the
 * special token, so data cannot inject document boundaries. Callers that want EOT insert `tokenizer.eot` themselves.
 *
 * Large texts are encoded in chunks cut only where GPT-2's pre-tokenizer is guaranteed to cut too (see
 * `safeSplitPoint`), so chunked encoding is token-for-token identical to encoding the whole string at once while
 * keeping temporary `number[]` arrays small.
 */
import { createRequire } from 'node:module';
import { decode as r50kDecode, encode as r50kEncode } from 'gpt-tokenizer/encoding/r50k_base';

/** What the token cache, datasets and evaluation need from a tokenizer; injectable for tests. */
export interface Tokenizer {
  /** Stable identifier including the implementation version; part of every token-cache key. */
  readonly id: string;
  readonly vocabSize: number;
  /** End-of-text token id. */
  readonly eot: number;
  /**
   * False when a text may not be encoded in pieces cut at GPT-2's safe split points (another pre-tokenizer, e.g. a
   * checkpoint's tokenizer.json): encodeTokenIds then encodes it in one call. Default true.
   */
  readonly chunkSafe?: boolean;
  /** Token ids of `text`, treating every character as plain text. */
  encode(text: string): Int32Array;
  decode(tokens: ArrayLike<number>): string;
}

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOT = 50256;

const NO_SPECIAL_TOKENS = new Set<string>();

function gptTokenizerVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('gpt-tokenizer/package.json') as { version: string }).version;
}

let gpt2Singleton: Tokenizer | undefined;

/** The GPT-2 tokenizer (shared instance: gpt-tokenizer keeps a merge cache worth reusing). */
export function gpt2Tokenizer(): Tokenizer {
  gpt2Singleton ??= {
    id: `r50k_base/gpt-tokenizer@${gptTokenizerVersion()}`,
    vocabSize: GPT2_VOCAB_SIZE,
    eot: GPT2_EOT,
    encode: (text) => Int32Array.from(r50kEncode(text, { disallowedSpecial: NO_SPECIAL_TOKENS })),
    decode: (tokens) => r50kDecode(Array.from(tokens)),
  };
  return gpt2Singleton;
}

const WHITESPACE = /\s/u;

/**
 * True when cutting `text` at `p` (p is just after a '\n') cannot change GPT-2's pre-tokenization, whose regex is
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * Two cases are provably safe: (a) the whitespace run is exactly "\n" and a non-space follows — the whole text
 * yields the lone pre-token "\n" either way; (b) the run ends in '\n' and is followed by ' ' + non-space — the
 * whole text's `\s+(?!\S)` backs off to end at '\n' (the ' ' joins the next word), which is exactly where the prefix
 * ends. Anywhere else (e.g. "a \nb", where the whole text splits " " + "\n") cutting could change tokens.
 */
export function isSafeSplitPoint(text: string, p: number): boolean {
  if (p <= 0 || p >= text.length || text[p - 1] !== '\n') return false;
  const next = text[p];
  if (!WHITESPACE.test(next)) return p < 2 || !WHITESPACE.test(text[p - 2]);
  return next === ' ' && p + 1 < text.length && !WHITESPACE.test(text[p + 1]);
}

/** First safe split point at or after `from`, or -1. */
function safeSplitPoint(text: string, from: number): number {
  let nl = text.indexOf('\n', Math.max(0, from - 1));
  while (nl !== -1) {
    if (isSafeSplitPoint(text, nl + 1)) return nl + 1;
    nl = text.indexOf('\n', nl + 1);
  }
  return -1;
}

/**
 * A token stream as stored: uint16 while every id fits (GPT-2, SmolLM, TinyLlama: half the memory and cache size),
 * uint32 for larger vocabularies (Llama-3's 128,256).
 */
export type TokenIds = Uint16Array | Uint32Array;

/** The narrowest stored width that holds every id of a vocabulary of `vocabSize` tokens. */
export function tokenIdBytes(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

export function allocTokenIds(length: number, bytes: 2 | 4): TokenIds {
  return bytes === 2 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Growable token buffer of a fixed width. */
class TokenBuffer {
  private data: TokenIds;
  length = 0;
  constructor(private readonly bytes: 2 | 4) {
    this.data = allocTokenIds(1 << 16, bytes);
  }
  push(tokens: ArrayLike<number>, vocabSize: number): void {
    if (this.length + tokens.length > this.data.length) {
      let cap = this.data.length * 2;
      while (cap < this.length + tokens.length) cap *= 2;
      const grown = allocTokenIds(cap, this.bytes);
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!(Number.isInteger(t) && t >= 0 && t < vocabSize)) throw new RangeError(`tokenizer produced token id ${t}, outside [0, ${vocabSize})`);
      this.data[this.length++] = t;
    }
  }
  take(): TokenIds {
    return this.data.slice(0, this.length);
  }
}

/**
 * Encode a possibly large text into a compact token array (uint16 when the vocabulary allows, else uint32),
 * `chunkChars` characters at a time (cut at safe split points only, so the result equals `tokenizer.encode(text)`).
 */
export function encodeTokenIds(tokenizer: Tokenizer, text: string, chunkChars = 1 << 16): TokenIds {
  if (!(Number.isInteger(tokenizer.vocabSize) && tokenizer.vocabSize >= 1 && tokenizer.vocabSize <= 2 ** 31)) {
    throw new RangeError(`tokenizer '${tokenizer.id}' has vocabSize ${tokenizer.vocabSize}; expected an integer in [1, 2^31] (token ids are int32 on the devices)`);
  }
  if (!(Number.isInteger(chunkChars) && chunkChars >= 1)) throw new RangeError(`chunkChars must be a positive integer, got ${chunkChars}`);
  const out = new TokenBuffer(tokenIdBytes(tokenizer.vocabSize));
  if (tokenizer.chunkSafe === false) chunkChars = Math.max(chunkChars, text.length);
  let start = 0;
  while (start < text.length) {
    const cut = start + chunkChars >= text.length ? -1 : safeSplitPoint(text, start + chunkChars);
    const end = cut === -1 ? text.length : cut;
    out.push(tokenizer.encode(text.slice(start, end)), tokenizer.vocabSize);
    start = end;
  }
  return out.take();
}
