/** Saving weights into a directory that already holds an earlier save leaves only the new layout's files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfWeightFiles, writeHfWeights } from '../../src/io/hf-weight-files.js';
import type { HostTensor } from '../../src/io/host-tensor.js';

const tensors = (n: number): Map<string, HostTensor> =>
  new Map(Array.from({ length: n }, (_, i) => [`w${i}`, { shape: [4], data: Float32Array.from([i, i, i, i]) }]));
const fail = (m: string) => new Error(m);

test('writeHfWeights: re-saving a directory in another layout or shard count removes the stale weight files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-hf-files-'));
  writeFileSync(join(dir, 'config.json'), '{}');
  await writeHfWeights(dir, tensors(3), {}, 16); // three shards of one tensor each
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
  await writeHfWeights(dir, tensors(2), {}, 16); // two shards: the third of the old save must go
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
  await writeHfWeights(dir, tensors(2), {}); // one file: the index and shards must go
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  await writeHfWeights(dir, tensors(2), {}, 16); // sharded again: the single file would win over the index
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
  assert.deepEqual(hfWeightFiles(dir, fail).map((p) => p.slice(dir.length + 1)), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
});
