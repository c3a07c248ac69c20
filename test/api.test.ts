/** The package entry: what the README's API section shows works as written, through `dist/src/index.js`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train, gpt2Arch, ADAMW_DEFAULTS, gpt2Tokenizer, LayerTooLargeError, type BatchSource, type TrainTask } from '../src/index.js';

test('public API: two GPT-2s trained at once through train(), sharded, learn a fixed text', async () => {
  const tok = gpt2Tokenizer();
  // A small vocabulary keeps the test fast: GPT-2 token ids folded into 512.
  const ids = tok.encode('The quick brown fox jumps over the lazy dog. '.repeat(8)).map((t) => t % 512);
  const T = 16, B = 2;
  const data: BatchSource = {
    B,
    T,
    stepsPerEpoch: 1,
    batch: () => ({ tokens: Int32Array.from(ids.slice(0, B * T)), targets: Int32Array.from(ids.slice(1, B * T + 1)) }),
  };
  const model = gpt2Arch('gpt2-tiny', { n_ctx: T, vocab_size: 512, dropout: 0 });
  const tasks: TrainTask[] = [3e-3, 1e-3].map((lr) => ({ name: `lr=${lr}`, model, optimizer: { ...ADAMW_DEFAULTS, lr }, train: data, steps: 6, seed: 0 }));
  const r = await train(tasks, { devices: 'js:2', deviceMemory: '900KiB', planDir: null });
  for (const m of r.models) {
    assert.equal(m.status, 'done');
    assert.ok(m.plan.shards.length >= 2, `${m.name}: 900 KiB should force shards, got ${m.plan.shards.length}`);
    assert.equal(m.losses.length, 6);
    assert.ok(m.losses[5] < m.losses[0] - 0.5, `${m.name}: loss ${m.losses[0]} → ${m.losses[5]} should fall on a repeated batch`);
  }
  await assert.rejects(() => train(tasks.slice(0, 1), { devices: 'js:1', deviceMemory: '64KiB', planDir: null }), LayerTooLargeError);
});
