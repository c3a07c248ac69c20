/**
 * The analytical memory check before planning: bytes known from shapes refuse a job that cannot fit before any pilot
 * pass runs (the case — n_embd 8192 on a 120 MiB device with a 4 GiB host cap — planned for 4 minutes at
 * 7.5 GB before). Its bounds are lower bounds: a job at the bound is planned, then refused by the partitioner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { train } from '../../src/hydra/job/train.js';
import { checkMemoryBudgets, type ModelBytes } from '../../src/hydra/plan/memory-check.js';
import { LayerTooLargeError } from '../../src/hydra/plan/partitioner.js';
import { HostOutOfMemoryError } from '../../src/hydra/tier/host-tier.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { syntheticSource, tinyTask } from './helpers.js';

const MiB = 2 ** 20;
const wide: Gpt2Config = { n_layer: 4, n_head: 8, n_embd: 8192, n_ctx: 256, vocab_size: 50257, dropout: 0, tie: true };
const TRAIN_JS = new URL('../../src/hydra/job/train.js', import.meta.url).pathname;
const HELPERS_JS = new URL('./helpers.js', import.meta.url).pathname;

test('checkMemoryBudgets: a layer over the device budget and a host floor over the cap are named with their bytes', () => {
  const m: ModelBytes = {
    name: 'm', paramBytes: 1000, optimizerStates: 2, fixedHostBytes: 100,
    layers: [{ name: 'a', paramBytes: 400, inputBytes: 10, outputBytes: 20 }, { name: 'b', paramBytes: 600, inputBytes: 20, outputBytes: 30 }],
  };
  checkMemoryBudgets([m], { device: 1250, host: 4100 });
  assert.throws(() => checkMemoryBudgets([m], { device: 1249, host: Infinity }), (e: unknown) => e instanceof LayerTooLargeError && /model 'm': layer 'b' needs at least 1\.2 KiB .*parameters 600 B, their gradients 600 B, input 20 B, output 30 B\), more than the device budget of 1\.2 KiB/.test(e.message));
  assert.throws(() => checkMemoryBudgets([m, { ...m, name: 'n' }], { device: Infinity, host: 8199 }), (e: unknown) => e instanceof HostOutOfMemoryError && e.requested === 8200 && /the 2 models' parameters, gradients, optimizer state and batches/.test(e.message));
});

test('n_embd 8192 on a 120 MiB device with a 4 GiB host cap is refused in under a second, before any pilot, in under 200 MB', () => {
  // In a fresh process, so its peak memory is this job's alone.
  const script = `
    import { train } from ${JSON.stringify(TRAIN_JS)};
    import { syntheticSource, tinyTask } from ${JSON.stringify(HELPERS_JS)};
    const model = { family: 'gpt2', config: ${JSON.stringify(wide)} };
    const t0 = performance.now();
    try {
      await train([tinyTask('wide', { model, train: syntheticSource(50257, 8, 256, 4) })], { devices: 'cpu:1x1', deviceMemory: '120MiB', hostMemory: '4GiB', planDir: null });
      console.log(JSON.stringify({ error: null }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.name + ': ' + e.message, ms: performance.now() - t0, maxRssKiB: process.resourceUsage().maxRSS }));
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.match(out.error, /^LayerTooLargeError: model 'wide': layer 'embed' needs at least 3\.1 GiB on a device .* more than the device budget of 120\.0 MiB/);
  assert.ok(out.ms < 1000, `refused after ${out.ms} ms`);
  assert.ok(out.maxRssKiB < 200 * 1024, `peak memory ${out.maxRssKiB} KiB`);
});

test('without a disk tier (spillDir null), a host cap below the models\' parameters, gradients and optimizer state is refused before planning', async () => {
  const tasks = [0, 1, 2].map((i) => tinyTask(`m${i}`, { model: gpt2Arch({ ...wide, n_embd: 256, n_head: 4, n_layer: 2 }), train: syntheticSource(50257, 2, 16, 2) }));
  const t0 = performance.now();
  await assert.rejects(train(tasks, { devices: 'js:1', deviceMemory: '4GiB', hostMemory: '100MiB', planDir: null, spillDir: null }), (e: unknown) => e instanceof HostOutOfMemoryError && e.budget === 100 * MiB && /the 3 models'/.test(e.message));
  assert.ok(performance.now() - t0 < 1000);
});
