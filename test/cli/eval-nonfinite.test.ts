import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expectedGpt2Shapes, saveHfGpt2 } from '../../src/io/hf-gpt2.js';
import type { HostTensor } from '../../src/io/host-tensor.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { tempDir } from '../config/fixtures.js';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const DATA = join(process.cwd(), 'examples', 'data', 'wikitext-tiny-eval.txt');

test('hydra eval of non-finite weights exits non-zero naming the first non-finite tensor (in model order)', async () => {
  const config: Gpt2Config = { n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 16, vocab_size: 50257, dropout: 0, tie: true };
  const tensors = new Map<string, HostTensor>();
  for (const [n, s] of expectedGpt2Shapes(config)) tensors.set(n, { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.01) });
  tensors.get('h.1.mlp.c_fc.weight')!.data[5] = Infinity;
  tensors.get('h.0.attn.c_proj.weight')!.data[3] = NaN;
  const dir = tempDir();
  await saveHfGpt2(dir, config, tensors);
  const r = spawnSync(process.execPath, [CLI, 'eval', '--model', dir, '--data', DATA, '--device', 'js', '--max-batches', '1'], { encoding: 'utf8', cwd: tempDir() });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^hydra: .*: tensor 'h\.0\.attn\.c_proj\.weight' holds NaN at element 3; the weights are not finite/m);
  assert.doesNotMatch(r.stdout, /loss NaN/);
});
