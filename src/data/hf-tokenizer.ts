/**
 * A checkpoint's own tokenizer: `tokenizer.json` (+ `tokenizer_config.json` when present) through
 * `@huggingface/tokenizers` (Hugging Face's pure-JS tokenizers, no dependencies, works offline from a local file).
 * A checkpoint without tokenizer.json whose vocabulary has GPT-2's size is read with GPT-2's BPE; any other is an
 * error saying what to add. Corpus text is encoded without added special tokens (no BOS), as GPT-2's path does.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { GPT2_VOCAB_SIZE, gpt2Tokenizer, type Tokenizer } from './tokenizer.js';

export interface CheckpointTokenizer {
  tokenizer: Tokenizer;
  /** What was used, for messages: e.g. "tokenizer.json (BPE, 49152 tokens) from DIR" or "GPT-2 BPE (r50k_base)". */
  description: string;
}

/** The library's version (part of every token-cache key). Its package.json is not exported: read it beside the entry. */
function libraryVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@huggingface/tokenizers');
  return (readJson(join(dirname(entry), '..', 'package.json')) as { version: string }).version;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** The tokenizer of `dir`'s tokenizer.json, or null when there is none. */
export function loadHfTokenizer(dir: string): CheckpointTokenizer | null {
  const file = join(dir, 'tokenizer.json');
  if (!existsSync(file)) return null;
  const json = readJson(file);
  const configFile = join(dir, 'tokenizer_config.json');
  const config = existsSync(configFile) ? readJson(configFile) : {};
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (err) {
    throw new Error(`${file}: @huggingface/tokenizers cannot load it (${(err as Error).message})`);
  }
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const eos = config.eos_token;
  const eosText = typeof eos === 'string' ? eos : (eos as { content?: unknown } | undefined)?.content;
  const hash = createHash('sha256').update(readFileSync(file)).update('\0').update(existsSync(configFile) ? readFileSync(configFile) : '').digest('hex');
  const model = (json.model as { type?: unknown } | undefined)?.type;
  const tokenizer: Tokenizer = {
    id: `tokenizer.json:${hash.slice(0, 16)}/@huggingface/tokenizers@${libraryVersion()}`,
    vocabSize,
    eot: typeof eosText === 'string' ? (hf.token_to_id(eosText) ?? -1) : -1,
    // Another tokenizer's pre-tokenizer may not cut where GPT-2's does: encode a text in one call.
    chunkSafe: false,
    encode: (text) => Int32Array.from(hf.encode(text, { add_special_tokens: false }).ids),
    decode: (tokens) => hf.decode(Array.from(tokens)),
  };
  return { tokenizer, description: `tokenizer.json (${typeof model === 'string' ? `${model}, ` : ''}${vocabSize} tokens) from ${dir}` };
}

/** The tokenizer for text fed to the checkpoint in `dir` whose vocabulary has `vocabSize` entries. */
export function checkpointTokenizer(dir: string, vocabSize: number): CheckpointTokenizer {
  const own = loadHfTokenizer(dir);
  if (own) {
    if (own.tokenizer.vocabSize > vocabSize) {
      throw new RangeError(`${join(dir, 'tokenizer.json')}: produces ids up to ${own.tokenizer.vocabSize - 1}, but the model's vocab_size is ${vocabSize}`);
    }
    return own;
  }
  if (vocabSize === GPT2_VOCAB_SIZE) return { tokenizer: gpt2Tokenizer(), description: `GPT-2 BPE (r50k_base; ${dir} has no tokenizer.json and its vocabulary has GPT-2's size)` };
  throw new Error(`${dir}: no tokenizer.json, and vocab_size ${vocabSize} is not GPT-2's ${GPT2_VOCAB_SIZE} — copy the checkpoint's tokenizer.json (and tokenizer_config.json) into ${dir}`);
}
