/**
 * Scratch files (tier/scratch-file.ts): unique names that never look like checkpoints, removed when closed, and swept
 * at the next start when a process that died left them — but only theirs: a live process's scratch and any other
 * file stay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ScratchFile, sweepScratch } from '../../../src/hydra/tier/scratch-file.js';

test('scratch files: unique names, removed on close; a dead process\'s are swept, a live one\'s and checkpoints stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-scratch-'));
  const a = await ScratchFile.create(dir), b = await ScratchFile.create(dir);
  assert.notEqual(a.path, b.path);
  assert.match(a.path, /hydra-scratch-\d+-[0-9a-f]+\.spill$/);
  const data = Float32Array.from({ length: 1000 }, (_, i) => i);
  await a.write(data, 4096);
  const back = new Float32Array(1000);
  await a.read(back, 4096);
  assert.deepEqual(back, data);
  const never = Float32Array.from({ length: 100 }, () => 7);
  await a.read(never, 1 << 20);
  assert.deepEqual(never, new Float32Array(100), 'a region never written reads as zeros');
  // A pid that has exited: a child that ran and ended.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  writeFileSync(join(dir, `hydra-scratch-${dead}-abc123.spill`), 'left by a crash');
  writeFileSync(join(dir, 'model.ckpt'), 'a checkpoint');
  const removed = sweepScratch(dir);
  assert.deepEqual(removed, [join(dir, `hydra-scratch-${dead}-abc123.spill`)]);
  assert.ok(existsSync(a.path) && existsSync(b.path), 'this process\'s scratch stays');
  assert.ok(existsSync(join(dir, 'model.ckpt')));
  await a.remove();
  await b.remove();
  assert.deepEqual(readdirSync(dir), ['model.ckpt']);
});
