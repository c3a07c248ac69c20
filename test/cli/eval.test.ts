import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

function hydra(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('hydra eval prints tokens, loss and a finite perplexity; the second run loads the tokens from the cache', () => {
  const work = mkdtempSync(join(tmpdir(), 'hydra-eval-'));
  const model = join(process.cwd(), 'test', 'fixtures', 'gold', 'hf-gpt2-vocab');
  const data = join(process.cwd(), 'examples', 'data', 'wikitext-tiny-eval.txt');
  const first = hydra(['eval', '--model', model, '--data', data, '--n-ctx', '64', '--device', 'js'], work);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /tokenized in [0-9.]+ s/);
  const m = /eval: tokens (\d+), loss ([0-9.]+), perplexity ([0-9.]+)/.exec(first.out);
  assert.ok(m, first.out);
  assert.ok(Number(m[1]) > 0 && Number.isFinite(Number(m[2])) && Number.isFinite(Number(m[3])));
  const second = hydra(['eval', '--model', model, '--data', data, '--n-ctx', '64', '--device', 'js'], work);
  assert.equal(second.code, 0, second.out);
  assert.match(second.out, /loaded from cache in [0-9.]+ s, no tokenizing/);
  assert.match(second.out, new RegExp(`loss ${m[2]}, perplexity ${m[3]}`));
});

test('hydra eval: bad input gets a clear error, not a stack trace', () => {
  const r = hydra(['eval', '--model', 'no/such/dir', '--data', 'x.txt']);
  assert.equal(r.code, 1);
  assert.match(r.out, /^hydra: .*no\/such\/dir.*config\.json/m);
  assert.doesNotMatch(r.out, /\n\s+at /);
  const model = join('test', 'fixtures', 'gold', 'hf-gpt2-vocab');
  const bad = hydra(['eval', '--model', model, '--data', join('examples', 'data', 'wikitext-tiny-eval.txt'), '--n-ctx', '999']);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /--n-ctx 999 exceeds the model's n_ctx 64/);
});
