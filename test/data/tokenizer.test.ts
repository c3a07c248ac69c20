import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { wikitextFile, WIKITEXT_MISSING } from './shared-data.js';
import { encodeTokenIds, gpt2Tokenizer, GPT2_EOT, GPT2_VOCAB_SIZE, isSafeSplitPoint } from '../../src/data/tokenizer.js';


test('gpt2 tokenizer: r50k_base ids, vocabulary size and end-of-text', () => {
  const tok = gpt2Tokenizer();
  assert.equal(tok.vocabSize, GPT2_VOCAB_SIZE);
  assert.equal(tok.eot, GPT2_EOT);
  assert.equal(GPT2_VOCAB_SIZE, 50257);
  assert.equal(GPT2_EOT, 50256);
  // Reference ids from GPT-2's encoder.json: "Hello" = 15496, " world" = 995.
  assert.deepEqual([...tok.encode('Hello world')], [15496, 995]);
  assert.ok(tok.encode('x') instanceof Int32Array);
  assert.match(tok.id, /^r50k_base\/gpt-tokenizer@\d+\.\d+\.\d+/);
});

test('gpt2 tokenizer: decode inverts encode on unicode text; a literal <|endoftext|> in data stays plain text', () => {
  const tok = gpt2Tokenizer();
  const text = 'Zürich — naïve café 🦞\n\n  tabs\tand  spaces <|endoftext|> end';
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.ok(!ids.includes(GPT2_EOT), 'the special token must not be produced from corpus text');
});

test('isSafeSplitPoint: only cuts where GPT-2 pre-tokenization cuts anyway', () => {
  assert.equal(isSafeSplitPoint('a\nb', 2), true); // lone "\n" then a word
  assert.equal(isSafeSplitPoint('a \n b', 3), true); // run " \n", then " b"
  assert.equal(isSafeSplitPoint('a \nb', 3), false); // whole text splits " " + "\n"
  assert.equal(isSafeSplitPoint('a\n\nb', 2), false); // inside the run "\n\n"
  assert.equal(isSafeSplitPoint('a\n  b', 2), false); // " " + " b": run continues
  assert.equal(isSafeSplitPoint('ab', 1), false); // not after a newline
});

test('encodeTokenIds in tiny chunks equals whole-string encoding on tricky text', () => {
  const tok = gpt2Tokenizer();
  const text = ' = Title = \n \n a\nb \nc\n\nd \n e\n  f\t\n g\n\n\n h\n😀\n 1 @,@ 000\n\'s\n \'ll\n';
  const whole = tok.encode(text);
  for (const chunkChars of [1, 2, 3, 5, 8]) {
    assert.deepEqual([...encodeTokenIds(tok, text, chunkChars)], [...whole], `chunkChars=${chunkChars}`);
  }
});

test('encodeTokenIds on wikitext-2 valid.txt (1.1 MB) equals whole-string encoding and is fast', (t) => {
  const file = wikitextFile('valid.txt');
  if (!file) return t.skip(WIKITEXT_MISSING);
  const tok = gpt2Tokenizer();
  const text = readFileSync(file, 'utf8');
  const t0 = performance.now();
  const chunked = encodeTokenIds(tok, text);
  const ms = performance.now() - t0;
  const whole = tok.encode(text);
  t.diagnostic(`valid.txt: ${text.length} chars -> ${chunked.length} tokens in ${ms.toFixed(0)} ms chunked`);
  assert.equal(chunked.length, whole.length);
  assert.ok(chunked.every((v, i) => v === whole[i]));
  assert.ok(ms < 10_000, `tokenizing took ${ms} ms`);
});
