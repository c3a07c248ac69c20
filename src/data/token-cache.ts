/**
 * On-disk cache of tokenized corpora, so a job tokenizes a corpus once and later runs load it in milliseconds.
 *
 * Key: sha256 over (format tag, tokenizer id, canonical JSON of the preprocessing options, input bytes). Anything
 * that could change the tokens changes the key; the tokenizer id carries the tokenizer package version.
 *
 * Token file (all integers little-endian):
 *   0   8 bytes  magic "HYDRATOK"
 *   8   u32      format version: 1 = uint16 tokens, 2 = uint32 tokens (vocabularies over 65,536)
 *   12  u32      L = byte length of the tokenizer id
 *   16  u64      token count n
 *   24  32 bytes cache key (raw sha256)
 *   56  32 bytes sha256 of the token payload
 *   88  L bytes  tokenizer id, UTF-8, then zero padding to a multiple of 8
 *   ..  2n or 4n bytes tokens, uint16 or uint32 as the version says
 * A file that fails any check (damaged, truncated, other key) is ignored, re-tokenized and replaced.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { sweepStaleTemps, writeFileAtomicSync } from './atomic-write.js';
import { allocTokenIds, encodeTokenIds, gpt2Tokenizer, type TokenIds, type Tokenizer } from './tokenizer.js';

export const DEFAULT_TOKEN_CACHE_DIR = '.hydra/cache/tokens';
const MAGIC = 'HYDRATOK';
/** Part of every cache key; the file versions below say only how wide the stored ids are. */
const KEY_VERSION = 1;
const VERSION_UINT16 = 1;
const VERSION_UINT32 = 2;
const FIXED_HEADER = 88;
const LITTLE_ENDIAN = endianness() === 'LE';

/** How the text is changed before tokenization; `key` must describe `apply` completely (it goes into the key). */
export interface Preprocess {
  key: unknown;
  apply(text: string): string;
}

export interface TokenizeOptions {
  tokenizer?: Tokenizer;
  preprocess?: Preprocess;
  /** Default `.hydra/cache/tokens`, resolved against the current directory. */
  cacheDir?: string;
  /** false: always tokenize, never read or write the cache. Default true. */
  cache?: boolean;
  /** Where the bytes came from (a path), for error messages. */
  source?: string;
}

export interface TokenizeInfo {
  tokens: TokenIds;
  /** True when the tokens came from the cache (the tokenizer did not run). */
  cached: boolean;
  /** Wall time of the whole call (hashing + loading, or decoding + preprocessing + tokenizing + writing). */
  seconds: number;
  /** Hex sha256 cache key. */
  key: string;
  cacheFile: string | null;
  /** Set when a cache file existed but was rejected (and replaced): why. */
  rejectedCache?: string;
}

/** JSON with object keys sorted, so equal options always give equal keys. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function tokenCacheKey(bytes: Uint8Array, tokenizerId: string, preprocessKey: unknown): string {
  return createHash('sha256')
    .update(`hydra-token-cache/v${KEY_VERSION}\0${tokenizerId}\0${canonicalJson(preprocessKey ?? null)}\0`)
    .update(bytes)
    .digest('hex');
}

function payloadBytes(tokens: TokenIds): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  const out = Buffer.alloc(tokens.byteLength);
  for (let i = 0; i < tokens.length; i++) {
    if (tokens instanceof Uint16Array) out.writeUInt16LE(tokens[i], 2 * i);
    else out.writeUInt32LE(tokens[i], 4 * i);
  }
  return out;
}

export function writeTokenFile(path: string, tokens: TokenIds, tokenizerId: string, keyHex: string): void {
  const id = Buffer.from(tokenizerId, 'utf8');
  const headerLen = Math.ceil((FIXED_HEADER + id.length) / 8) * 8;
  const header = Buffer.alloc(headerLen);
  const payload = payloadBytes(tokens);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(tokens instanceof Uint16Array ? VERSION_UINT16 : VERSION_UINT32, 8);
  header.writeUInt32LE(id.length, 12);
  header.writeBigUInt64LE(BigInt(tokens.length), 16);
  Buffer.from(keyHex, 'hex').copy(header, 24);
  createHash('sha256').update(payload).digest().copy(header, 56);
  id.copy(header, FIXED_HEADER);
  writeFileAtomicSync(path, [header, payload]);
}

export interface TokenFile {
  tokens: TokenIds;
  tokenizerId: string;
  key: string;
}

/** Read and fully verify a token file; throws an Error saying what is wrong. */
export function readTokenFile(path: string): TokenFile {
  const buf = readFileSync(path);
  const bad = (what: string): Error => new Error(`token cache file ${path}: ${what}`);
  if (buf.length < FIXED_HEADER) throw bad(`truncated (${buf.length} bytes, header alone is ${FIXED_HEADER})`);
  if (buf.toString('latin1', 0, 8) !== MAGIC) throw bad(`bad magic (expected "${MAGIC}")`);
  const version = buf.readUInt32LE(8);
  if (version !== VERSION_UINT16 && version !== VERSION_UINT32) throw bad(`format version ${version}, this build reads ${VERSION_UINT16} and ${VERSION_UINT32}`);
  const width: 2 | 4 = version === VERSION_UINT16 ? 2 : 4;
  const idLen = buf.readUInt32LE(12);
  const count = buf.readBigUInt64LE(16);
  const headerLen = Math.ceil((FIXED_HEADER + idLen) / 8) * 8;
  const expected = BigInt(headerLen) + BigInt(width) * count;
  if (BigInt(buf.length) !== expected) throw bad(`size ${buf.length} bytes, header says ${expected}`);
  const payload = buf.subarray(headerLen);
  if (!createHash('sha256').update(payload).digest().equals(buf.subarray(56, 88))) throw bad('payload checksum mismatch');
  const n = Number(count);
  let tokens: TokenIds;
  if (LITTLE_ENDIAN && (buf.byteOffset + headerLen) % width === 0) {
    tokens = width === 2 ? new Uint16Array(buf.buffer, buf.byteOffset + headerLen, n) : new Uint32Array(buf.buffer, buf.byteOffset + headerLen, n);
  } else {
    tokens = allocTokenIds(n, width);
    for (let i = 0; i < n; i++) tokens[i] = width === 2 ? payload.readUInt16LE(2 * i) : payload.readUInt32LE(4 * i);
  }
  return { tokens, tokenizerId: buf.toString('utf8', FIXED_HEADER, FIXED_HEADER + idLen), key: buf.toString('hex', 24, 56) };
}

/**
 * Tokens of `bytes` (UTF-8 text), from the cache when a valid entry exists, otherwise by decoding, preprocessing
 * and tokenizing, then writing the entry atomically.
 */
export function tokenizeBytesCached(bytes: Uint8Array, options: TokenizeOptions = {}): TokenizeInfo {
  const t0 = performance.now();
  const tokenizer = options.tokenizer ?? gpt2Tokenizer();
  const useCache = options.cache ?? true;
  const key = tokenCacheKey(bytes, tokenizer.id, options.preprocess?.key ?? null);
  const cacheFile = useCache ? join(resolve(options.cacheDir ?? DEFAULT_TOKEN_CACHE_DIR), `${key}.tok`) : null;
  let rejectedCache: string | undefined;
  if (cacheFile && existsSync(cacheFile)) {
    try {
      const file = readTokenFile(cacheFile);
      if (file.key !== key) throw new Error(`token cache file ${cacheFile}: records key ${file.key}, expected ${key}`);
      if (file.tokenizerId !== tokenizer.id) throw new Error(`token cache file ${cacheFile}: tokenizer '${file.tokenizerId}', expected '${tokenizer.id}'`);
      return { tokens: file.tokens, cached: true, seconds: (performance.now() - t0) / 1000, key, cacheFile };
    } catch (err) {
      rejectedCache = (err as Error).message;
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${options.source ?? 'input'}: not valid UTF-8 text (tokenizers read UTF-8 only)`);
  }
  const tokens = encodeTokenIds(tokenizer, options.preprocess ? options.preprocess.apply(text) : text);
  if (cacheFile) {
    sweepStaleTemps(dirname(cacheFile), 0); // a run killed while writing an entry left its temp file
    writeTokenFile(cacheFile, tokens, tokenizer.id, key);
  }
  const info: TokenizeInfo = { tokens, cached: false, seconds: (performance.now() - t0) / 1000, key, cacheFile };
  if (rejectedCache !== undefined) info.rejectedCache = rejectedCache;
  return info;
}
