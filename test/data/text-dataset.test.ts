import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockDataset, loadTextDataset, loadTokenStream, loadTrainEval } from '../../src/data/text-dataset.js';
import { detokenizeWikitext, looksLikeWikitextPath } from '../../src/data/wikitext.js';
import { gpt2Tokenizer } from '../../src/data/tokenizer.js';
import { wikitextFile, WIKITEXT_MISSING } from './shared-data.js';

const root = mkdtempSync(join(tmpdir(), 'hydra-textds-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(root, 'case-'));

test('detokenizeWikitext undoes exactly the @-@, @,@ and @.@ escapes', () => {
  const src = ' = = Size = = \n It weighs 0 @.@ 7 kg , about 1 @,@ 000 g in a state @-@ of @-@ the @-@ art <unk> .\n';
  const out = ' = = Size = = \n It weighs 0.7 kg , about 1,000 g in a state-of-the-art <unk> .\n';
  assert.equal(detokenizeWikitext(src), out);
  assert.equal(looksLikeWikitextPath('../shared/data/wikitext-2/valid.txt'), true);
  assert.equal(looksLikeWikitextPath('/x/wiki.test.tokens'), true);
  assert.equal(looksLikeWikitextPath('/x/notes.txt'), false);
});

test('BlockDataset: block i = tokens[i*T, i*T+T), targets shifted by one; floor((N-1)/T) blocks', () => {
  const tokens = Uint16Array.from({ length: 23 }, (_, i) => 100 + i);
  const ds = new BlockDataset(tokens, 5, 'toy');
  assert.equal(ds.numBlocks, 4); // (23-1)/5 = 4.4
  const b2 = ds.block(2);
  assert.deepEqual([...b2.inputs], [110, 111, 112, 113, 114]);
  assert.deepEqual([...b2.targets], [111, 112, 113, 114, 115]);
  const b3 = ds.block(3);
  assert.deepEqual([...b3.targets], [116, 117, 118, 119, 120]);
  assert.throws(() => ds.block(4), /block index 4 out of range \[0, 4\)/);
  // Exactly T+1 tokens make one block; T tokens make none.
  assert.equal(new BlockDataset(tokens.subarray(0, 6), 5).numBlocks, 1);
  assert.throws(() => new BlockDataset(tokens.subarray(0, 5), 5, 'short'), /short has 5 tokens; one block of n_ctx=5 needs at least 6/);
});

test('BlockDataset over uint32 ids (a Llama-3 vocabulary) gives the same int32 blocks, ids above 65,535 intact', () => {
  const tokens = Uint32Array.from({ length: 11 }, (_, i) => 128000 + i);
  const b1 = new BlockDataset(tokens, 5, 'wide').block(1);
  assert.deepEqual([...b1.inputs], [128005, 128006, 128007, 128008, 128009]);
  assert.deepEqual([...b1.targets], [128006, 128007, 128008, 128009, 128010]);
});

test('wikitext-2 valid/test load out of the box (paths relative to cwd), normalised, then from the token cache', (t) => {
  const valid = wikitextFile('valid.txt'), testFile = wikitextFile('test.txt');
  if (!valid || !testFile) return t.skip(WIKITEXT_MISSING);
  const cacheDir = tmp();
  const files = { train: valid, eval: testFile, nCtx: 128 };
  const first = loadTrainEval(files, { cacheDir });
  assert.ok(first.eval);
  for (const ds of [first.train, first.eval]) {
    assert.equal(ds.stream?.format, 'wikitext');
    assert.equal(ds.stream?.detokenize, true);
    assert.equal(ds.stream?.cached, false);
    assert.equal(ds.numBlocks, Math.floor((ds.tokens.length - 1) / 128));
  }
  t.diagnostic(`valid: ${first.train.tokens.length} tokens (${first.train.stream!.seconds.toFixed(2)} s); test: ${first.eval.tokens.length} tokens (${first.eval.stream!.seconds.toFixed(2)} s)`);
  const text = gpt2Tokenizer().decode(first.train.tokens.subarray(0, 400));
  assert.match(text, /^ \n = Homarus gammarus = \n/);
  assert.ok(!text.includes('@.@') && !text.includes('@-@'), 'escapes are undone');
  const second = loadTrainEval(files, { cacheDir });
  assert.equal(second.train.stream?.cached, true);
  assert.equal(second.eval?.stream?.cached, true);
  assert.deepEqual(second.train.block(7), first.train.block(7));
  t.diagnostic(`cached load: ${second.train.stream!.seconds.toFixed(3)} s`);
  // Turning detokenization off is a different corpus, with its own cache entry.
  const raw = loadTokenStream(files.train, { cacheDir, detokenize: false });
  assert.equal(raw.cached, false);
  assert.ok(raw.tokens.length > first.train.tokens.length);
});

test('plain text files: format by name or option; detokenize only for WikiText; clear file errors', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'corpus'));
  writeFileSync(join(dir, 'corpus', 'notes.txt'), 'a 1 @,@ 000 b\n'.repeat(10));
  const cacheDir = join(dir, 'cache');
  const plain = loadTokenStream('corpus/notes.txt', { cwd: dir, cacheDir });
  assert.equal(plain.format, 'text');
  assert.equal(plain.detokenize, false);
  assert.equal(plain.path, join(dir, 'corpus', 'notes.txt'));
  assert.ok(gpt2Tokenizer().decode(plain.tokens).includes('@,@'));
  const forced = loadTokenStream('corpus/notes.txt', { cwd: dir, cacheDir, format: 'wikitext' });
  assert.ok(gpt2Tokenizer().decode(forced.tokens).includes('1,000'));
  assert.throws(() => loadTokenStream('corpus/notes.txt', { cwd: dir, cacheDir, detokenize: true }), /detokenize applies to format 'wikitext' only/);
  assert.throws(() => loadTokenStream('corpus/notes.txt', { cwd: dir, format: 'csv' as never }), /format must be 'auto', 'text' or 'wikitext', got "csv"/);
  assert.throws(() => loadTextDataset('nope.txt', 8, { cwd: dir }, 'train data file'), (err: Error) => {
    assert.match(err.message, /train data file 'nope\.txt' not found/);
    assert.ok(err.message.includes(join(dir, 'nope.txt')));
    return true;
  });
});
