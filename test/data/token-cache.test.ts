import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2Tokenizer, type Tokenizer } from '../../src/data/tokenizer.js';
import { canonicalJson, readTokenFile, tokenCacheKey, tokenizeBytesCached, writeTokenFile } from '../../src/data/token-cache.js';

/** The GPT-2 tokenizer with a call counter, to prove when tokenization did or did not run. */
function countingTokenizer(): Tokenizer & { calls: number } {
  const base = gpt2Tokenizer();
  const t = {
    calls: 0,
    id: base.id,
    vocabSize: base.vocabSize,
    eot: base.eot,
    encode(text: string) {
      t.calls++;
      return base.encode(text);
    },
    decode: base.decode,
  };
  return t;
}

const TEXT = Buffer.from(' = Lobsters = \n \n Homarus gammarus is a large crustacean , 0 @.@ 7 kg .\n'.repeat(20), 'utf8');
const root = mkdtempSync(join(tmpdir(), 'hydra-tokcache-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));

test('token cache: second call loads from the cache without running the tokenizer', () => {
  const dir = tmp();
  const tok = countingTokenizer();
  const first = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.equal(first.cached, false);
  assert.ok(tok.calls > 0);
  assert.ok(first.cacheFile && existsSync(first.cacheFile));
  assert.ok(first.seconds >= 0);
  const callsAfterFirst = tok.calls;
  const second = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.equal(second.cached, true);
  assert.equal(tok.calls, callsAfterFirst, 'tokenizer must not run on a cache hit');
  assert.deepEqual([...second.tokens], [...first.tokens]);
  assert.deepEqual([...first.tokens], [...tok.encode(TEXT.toString('utf8'))]);
  assert.equal(readdirSync(dir).length, 1, 'exactly one cache file, no temp files left behind');
});

test('token cache: the key covers input bytes, tokenizer id and preprocessing options', () => {
  const dir = tmp();
  const tok = countingTokenizer();
  const upper = { key: { upper: 1 }, apply: (s: string) => s.toUpperCase() };
  const plain = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  const pre = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir, preprocess: upper });
  assert.equal(pre.cached, false, 'different preprocessing must not hit the plain entry');
  assert.notEqual(pre.key, plain.key);
  assert.deepEqual([...pre.tokens], [...tok.encode(TEXT.toString('utf8').toUpperCase())]);
  assert.equal(tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir, preprocess: upper }).cached, true);
  const other = { ...tok, id: `${tok.id}-other` };
  assert.notEqual(tokenCacheKey(TEXT, other.id, null), plain.key);
  assert.notEqual(tokenCacheKey(Buffer.concat([TEXT, Buffer.from('x')]), tok.id, null), plain.key);
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), canonicalJson({ a: [2, { c: 4, d: 3 }], b: 1 }));
});

test('token cache: a damaged or truncated cache file is rejected, re-tokenized and replaced', () => {
  const dir = tmp();
  const tok = countingTokenizer();
  const first = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  const file = first.cacheFile!;
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[flipped.length - 3] ^= 0x10;
  writeFileSync(file, flipped);
  const again = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.equal(again.cached, false);
  assert.match(again.rejectedCache ?? '', /checksum/);
  assert.deepEqual([...again.tokens], [...first.tokens]);
  assert.ok(readFileSync(file).equals(good), 'the cache file is rewritten');

  writeFileSync(file, good.subarray(0, good.length - 2));
  const afterTrunc = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.equal(afterTrunc.cached, false);
  assert.match(afterTrunc.rejectedCache ?? '', /size/);
  assert.equal(tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir }).cached, true);
});

test('token cache: cache=false never reads or writes files', () => {
  const dir = tmp();
  const info = tokenizeBytesCached(TEXT, { cacheDir: dir, cache: false });
  assert.equal(info.cached, false);
  assert.equal(info.cacheFile, null);
  assert.deepEqual(readdirSync(dir), []);
});

test('token file: header records count, tokenizer id and key; round trip is exact', () => {
  const dir = tmp();
  const tokens = Uint16Array.from([0, 1, 50256, 65535, 42]);
  const key = 'ab'.repeat(32);
  const path = join(dir, 't.tok');
  writeTokenFile(path, tokens, 'my-tokenizer', key);
  const buf = readFileSync(path);
  assert.equal(buf.toString('latin1', 0, 8), 'HYDRATOK');
  assert.equal(buf.readBigUInt64LE(16), 5n);
  assert.equal(buf.length % 2, 0);
  assert.equal(buf.readUInt16LE(buf.length - 2), 42, 'uint16 little-endian payload at the end');
  const back = readTokenFile(path);
  assert.deepEqual([...back.tokens], [...tokens]);
  assert.equal(back.tokenizerId, 'my-tokenizer');
  assert.equal(back.key, key);
});

test('token cache: input that is not UTF-8 is refused with the source named', () => {
  assert.throws(
    () => tokenizeBytesCached(Uint8Array.from([0x66, 0xff, 0xfe]), { cache: false, source: '/data/bad.txt' }),
    /\/data\/bad\.txt: not valid UTF-8/,
  );
});

/** A Llama-3-sized vocabulary (128,256 ids): each character becomes the id 65,536 + its code, beyond uint16. */
function wideTokenizer(): Tokenizer & { calls: number } {
  const t = {
    calls: 0,
    id: 'test-wide/1',
    vocabSize: 128256,
    eot: 128001,
    chunkSafe: false,
    encode(text: string) {
      t.calls++;
      return Int32Array.from(text, (ch) => 65536 + (ch.codePointAt(0) as number));
    },
    decode: (ids: ArrayLike<number>) => String.fromCodePoint(...Array.from(ids, (id) => id - 65536)),
  };
  return t;
}

test('token file: ids beyond uint16 are stored as uint32 (format version 2) and read back exactly', () => {
  const dir = tmp();
  const tokens = Uint32Array.from([0, 65535, 65536, 128255, 42]);
  const path = join(dir, 'wide.tok');
  writeTokenFile(path, tokens, 'wide', 'cd'.repeat(32));
  const buf = readFileSync(path);
  assert.equal(buf.readUInt32LE(8), 2, 'format version 2 = uint32 payload');
  assert.equal(buf.readUInt32LE(buf.length - 4), 42, 'uint32 little-endian payload at the end');
  const back = readTokenFile(path);
  assert.ok(back.tokens instanceof Uint32Array);
  assert.deepEqual([...back.tokens], [...tokens]);
});

test('token cache: a vocabulary over 65,536 (Llama-3) tokenizes to uint32 ids, cached and reloaded equal', () => {
  const dir = tmp();
  const tok = wideTokenizer();
  const first = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.ok(first.tokens instanceof Uint32Array);
  assert.equal(first.tokens[0], 65536 + 0x20);
  const calls = tok.calls;
  const second = tokenizeBytesCached(TEXT, { tokenizer: tok, cacheDir: dir });
  assert.equal(second.cached, true);
  assert.equal(tok.calls, calls, 'loaded from the cache');
  assert.deepEqual([...second.tokens], [...first.tokens]);
});

test('token cache: an id the tokenizer produces outside its vocabulary is refused with the id and the range', () => {
  const bad: Tokenizer = { ...wideTokenizer(), vocabSize: 65560 };
  assert.throws(() => tokenizeBytesCached(TEXT, { tokenizer: bad, cache: false }), /token id 65568, outside \[0, 65560\)/);
});

test('token cache: writing an entry removes temp files of runs killed mid-write, keeps a live run\'s', () => {
  const dir = tmp();
  writeFileSync(join(dir, '.x.tok.tmp-999999999-0123abcd'), 'partial');
  writeFileSync(join(dir, '.y.tok.tmp-1-0123abcd'), 'partial'); // pid 1 always runs
  const info = tokenizeBytesCached(TEXT, { cacheDir: dir });
  assert.deepEqual(readdirSync(dir).sort(), ['.y.tok.tmp-1-0123abcd', `${info.key}.tok`].sort());
});
