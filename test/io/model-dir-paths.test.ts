/**
 * A model directory is read only where it should be: a sharded index's weight_map cannot reach outside the
 * directory (no file opened, no bytes quoted), and tensors the model does not use are refused from the headers,
 * before any data is read — even a 2.5 GiB one (a sparse file here: nothing is allocated or read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectedGpt2Shapes, HfGpt2Error, loadHfGpt2, saveHfGpt2 } from '../../src/io/hf-gpt2.js';
import { gpt2ConfigToHf } from '../../src/io/hf-gpt2-config.js';
import { readSafetensors, TensorMemoryError } from '../../src/io/safetensors.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { tempDir } from '../config/fixtures.js';
import { sparseSafetensors } from './sparse-safetensors.js';

const config: Gpt2Config = { n_layer: 1, n_head: 2, n_embd: 8, n_ctx: 16, vocab_size: 50, dropout: 0, tie: true };

function tensors(): Map<string, HostTensor> {
  return new Map([...expectedGpt2Shapes(config)].map(([n, s]) => [n, { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.5) }]));
}

async function shardedDir(weightMapFile: string): Promise<string> {
  const dir = tempDir();
  await saveHfGpt2(dir, config, tensors());
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'transformer.wte.weight': weightMapFile } }));
  rmSync(join(dir, 'model.safetensors'));
  return dir;
}

test('a weight_map entry outside the model directory is refused without opening it or quoting it', async () => {
  for (const target of ['../../etc/passwd', '/etc/passwd', '../' + 'x'.repeat(300)]) {
    const dir = await shardedDir(target);
    await assert.rejects(loadHfGpt2(dir), (e: unknown) => {
      assert.ok(e instanceof HfGpt2Error);
      assert.match(e.message, /model\.safetensors\.index\.json: weight_map names ".*", which is outside the model directory .*; refused/);
      assert.doesNotMatch(e.message, /root:/, 'no bytes of the file');
      assert.ok(e.message.length < 600);
      return true;
    });
  }
  const dir = await shardedDir('passwd.safetensors');
  symlinkSync('/etc/passwd', join(dir, 'passwd.safetensors'));
  await assert.rejects(loadHfGpt2(dir), /weight_map names "passwd\.safetensors", a link to \/etc\/passwd outside the model directory/);
});

test('a 2.5 GiB tensor the model does not use is refused from the header, without reading it, naming it', async () => {
  const dir = tempDir();
  await saveHfGpt2(dir, config, tensors());
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHf(config)));
  renameSync(join(dir, 'model.safetensors'), join(dir, 'part-1.safetensors'));
  sparseSafetensors(join(dir, 'part-2.safetensors'), 2.5 * 2 ** 28, 'transformer.h.0.extra.weight');
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'part-1.safetensors', b: 'part-2.safetensors' } }));
  const rss = process.memoryUsage().rss;
  await assert.rejects(loadHfGpt2(dir), /unexpected: h\.0\.extra\.weight/);
  assert.ok(process.memoryUsage().rss - rss < 256 * 2 ** 20, 'the big tensor was not read');
});

test('a 2.5 GiB tensor that cannot be allocated is an error naming the file, the tensor and its size; filtered out it is skipped', async () => {
  const path = join(tempDir(), 'big.safetensors');
  sparseSafetensors(path, 2.5 * 2 ** 28);
  const noMemory = () => {
    throw new RangeError('Array buffer allocation failed');
  };
  await assert.rejects(readSafetensors(path, { allocate: noMemory }), (e: unknown) => {
    assert.ok(e instanceof TensorMemoryError);
    assert.equal(e.message, `${path}: tensor 'big' (F32 [671088640], 2684354560 bytes as float32) cannot be held in memory: Array buffer allocation failed`);
    return true;
  });
  // A filtered-out tensor is never given memory (the allocator is not asked), so it is never read.
  let asked = 0;
  const got = await readSafetensors(path, { filter: () => false, allocate: (_e, n) => (asked++, new Float32Array(n)) });
  assert.equal(got.tensors.size, 0);
  assert.equal(asked, 0);
});
