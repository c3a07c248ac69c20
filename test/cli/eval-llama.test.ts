/**
 * `hydra eval` on a Llama checkpoint in Hugging Face's layout (sharded index, its own BPE tokenizer.json; made by
 * scripts/gold/make_hf_llama.py): the tokenizer library gives the ids the PyTorch script's own BPE encoder gave, the
 * loss is PyTorch's, and eval says which tokenizer it used — or why it has none.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfTokenizer } from '../../src/data/hf-tokenizer.js';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const DIR = join(process.cwd(), 'test', 'fixtures', 'gold', 'hf-llama');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { n_ctx: number; blocks: number; loss: number; ids: number[] };
const work = mkdtempSync(join(tmpdir(), 'hydra-eval-llama-'));
after(() => rmSync(work, { recursive: true, force: true }));

function hydra(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('a checkpoint\'s tokenizer.json (through @huggingface/tokenizers) gives the ids of the PyTorch script\'s BPE', () => {
  const own = loadHfTokenizer(DIR);
  assert.ok(own, 'the fixture has a tokenizer.json');
  assert.match(own.description, /^tokenizer\.json \(BPE, 183 tokens\)/);
  assert.deepEqual([...own.tokenizer.encode(readFileSync(join(DIR, 'text.txt'), 'utf8'))], expected.ids);
  assert.equal(loadHfTokenizer(join(process.cwd(), 'test', 'fixtures', 'gold', 'hf-tiny')), null);
});

test('hydra eval on a sharded HF Llama checkpoint: its own tokenizer, PyTorch\'s loss', () => {
  const r = hydra(['eval', '--model', DIR, '--data', join(DIR, 'text.txt'), '--n-ctx', String(expected.n_ctx), '--batch', '16', '--device', 'js']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /tokenizer: tokenizer\.json \(BPE, 183 tokens\) from /);
  assert.match(r.out, new RegExp(`model: llama\\(n_layer=2,n_head=4,n_kv_head=2,.*; ${expected.blocks} blocks of ${expected.n_ctx}`));
  const m = /eval: tokens (\d+), loss ([0-9.]+)/.exec(r.out);
  assert.ok(m, r.out);
  assert.equal(Number(m[1]), expected.blocks * expected.n_ctx);
  const rel = Math.abs(Number(m[2]) - expected.loss) / expected.loss;
  assert.ok(rel <= 1e-5, `loss ${m[2]} vs PyTorch ${expected.loss} (relative ${rel})`);
});

test('hydra eval: without tokenizer.json, GPT-2\'s vocabulary size means GPT-2\'s BPE; any other is refused with what to add', () => {
  const gpt2 = hydra(['eval', '--model', join(process.cwd(), 'test', 'fixtures', 'gold', 'hf-gpt2-vocab'), '--data', join(DIR, 'text.txt'), '--n-ctx', '64', '--max-batches', '1', '--device', 'js']);
  assert.equal(gpt2.code, 0, gpt2.out);
  assert.match(gpt2.out, /tokenizer: GPT-2 BPE \(r50k_base;/);
  const bare = mkdtempSync(join(work, 'bare-'));
  for (const f of readdirSync(DIR).filter((f) => f !== 'tokenizer.json')) copyFileSync(join(DIR, f), join(bare, f));
  const r = hydra(['eval', '--model', bare, '--data', join(DIR, 'text.txt'), '--device', 'js']);
  assert.equal(r.code, 1);
  assert.match(r.out, /no tokenizer\.json, and vocab_size 183 is not GPT-2's 50257 — copy the checkpoint's tokenizer\.json/);
});
