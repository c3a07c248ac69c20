/** train() says what its set-up is doing (starting devices, planning, each pilot measurement, initialising), timed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/hydra/job/train.js';
import { tinyTask } from './helpers.js';

async function setupLines(planDir: string): Promise<string[]> {
  const lines: string[] = [];
  await train([tinyTask('m', { steps: 1 })], {
    devices: 'js:1', deviceMemory: 90_000, planDir, onEvent: (e) => e.type === 'log' && lines.push(e.message),
  });
  return lines;
}

test('set-up progress: devices start while planning (each distinct layer measured) and initialising; a warm plan cache says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-setup-'));
  const cold = await setupLines(dir);
  for (const l of cold) assert.match(l, /^\[ *\d+\.\ds\] /, `every set-up line carries the elapsed time: ${l}`);
  const text = cold.map((l) => l.replace(/^\[ *\d+\.\ds\] /, ''));
  assert.deepEqual(text.slice(0, 8), [
    'starting 1 js device',
    'm: planning',
    'm: pilot pass: measuring layer embed (1 of 4 distinct)',
    'm: pilot pass: measuring layer h.0 (2 of 4 distinct)',
    'm: pilot pass: measuring layer ln_f (3 of 4 distinct)',
    'm: pilot pass: measuring layer lm_head (4 of 4 distinct)',
    'm: partitioning (dry runs on the accounting backend)',
    text[7],
  ]);
  assert.match(text[7], /^m: planned in \d+\.\d s$/);
  assert.match(text[8], /^m: initialising 0\.\d M parameters, shard by shard \(it trains as soon as shard 0 is in place\)$/);
  assert.match(text[9], /^m: initialised in \d+\.\d s \((native, every core|JavaScript: the cpu addon is missing)\)$/);
  const warm = (await setupLines(dir)).map((l) => l.replace(/^\[ *\d+\.\ds\] /, ''));
  assert.deepEqual(warm.slice(0, 2), ['starting 1 js device', 'm: planning']);
  assert.match(warm[2], /^m: plan read from the plan cache in \d+\.\d s$/);
});
