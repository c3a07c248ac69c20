/**
 * Pretrained weights read from a WeightSource land straight in the host tier's arrays (no copy in between); a model
 * with state on disk takes them piece by piece (WeightSource.stream), never whole in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WeightSource } from '../../src/hydra/api.js';
import { train } from '../../src/hydra/job/train.js';
import { hfGpt2Weights, loadHfGpt2, saveHfGpt2 } from '../../src/io/hf-gpt2.js';
import { buildGpt2, gpt2Arch } from '../../src/nn/gpt2.js';
import { initModel } from '../../src/nn/init.js';
import { STREAM_PIECE } from '../../src/io/streamed-tensor.js';
import { TINY, sameBits, tinyTask } from './helpers.js';
import { jobHostFloor } from './disk-tasks.js';

test('pretrained weights from a WeightSource are read straight into the host tier: one array per parameter, no staging copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-weights-'));
  const config = { ...TINY, vocab_size: 37 };
  await saveHfGpt2(dir, config, initModel(buildGpt2(config), 5));
  const { source } = await hfGpt2Weights(dir);
  const handed: Float32Array[] = [];
  const recording: WeightSource = { describe: source.describe, read: (into) => source.read((name, n) => { const a = into(name, n); handed.push(a); return a; }) };
  const task = tinyTask('pretrained', { steps: 2 });
  const streamed = await train([{ ...task, weights: recording }], { devices: 'js:1', deviceMemory: 90_000, planDir: null });
  // Every tensor went into a whole host-tier buffer (shared memory the devices read in place), each once.
  const params = buildGpt2(config).params;
  assert.equal(handed.length, params.length);
  for (const a of handed) assert.ok(a.buffer instanceof SharedArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength);
  assert.equal(new Set(handed.map((a) => a.buffer)).size, params.length);
  // The same run with the weights loaded into memory first and copied in: same host-tier state, same arithmetic.
  const copied = await train([{ ...task, weights: (await loadHfGpt2(dir)).tensors }], { devices: 'js:1', deviceMemory: 90_000, planDir: null });
  assert.equal(streamed.hostTier!.highWater, copied.hostTier!.highWater);
  assert.deepEqual(streamed.models[0].losses, copied.models[0].losses);
  for (const [name, t] of copied.models[0].weights) assert.ok(sameBits(streamed.models[0].weights.get(name)!.data, t.data), name);
});

test('a model with state on disk starts from a WeightSource piece by piece (its streamed tensors: never whole in memory, read() never called); bitwise equal to the same start in RAM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-weights-disk-'));
  const config = { ...TINY, n_layer: 6, vocab_size: 37 };
  await saveHfGpt2(dir, config, initModel(buildGpt2(config), 5));
  const { source } = await hfGpt2Weights(dir);
  const pieces: number[] = [];
  const streamOnly: WeightSource = {
    describe: source.describe,
    read: () => Promise.reject(new Error('read() hands out whole tensors: not for a model on disk')),
    stream: async () => new Map([...(await source.stream!())].map(([n, t]) => [n, { shape: t.shape, read: (dst: Float32Array, at: number) => (pieces.push(dst.length), t.read(dst, at)) }])),
  };
  const task = tinyTask('pretrained', { steps: 2, model: gpt2Arch(config) });
  const base = { devices: 'js:1', deviceMemory: 90_000, planDir: null };
  const spill = mkdtempSync(join(tmpdir(), 'hydra-weights-spill-'));
  const disk = await train([{ ...task, weights: streamOnly }], { ...base, hostMemory: await jobHostFloor([task], base), spillDir: spill });
  const ram = await train([{ ...task, weights: source }], base);
  const m = disk.models[0];
  assert.equal(m.status, 'done', m.reason);
  assert.ok((m.placement?.diskShards.length ?? 0) > 0, `its shards are on disk: ${JSON.stringify(m.placement)}`);
  assert.ok(pieces.length >= buildGpt2(config).params.length && pieces.every((n) => n <= STREAM_PIECE), `read in pieces: ${pieces.length}`);
  assert.deepEqual(m.losses, ram.models[0].losses);
  for (const [name, t] of ram.models[0].weights) assert.ok(sameBits(m.weights.get(name)!.data, t.data), name);
});
