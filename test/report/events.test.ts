import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventsWriter } from '../../src/report/events-writer.js';
import { tempDir } from '../config/fixtures.js';

test('events.jsonl is written as events happen (buffered for a moment), not only at close', async () => {
  const path = join(tempDir(), 'sub/events.jsonl');
  const w = new EventsWriter(path, false, 20);
  w.write({ type: 'log', t: 0, message: 'first' });
  // The writer's 20 ms timer writes the line; under load it fires late, so wait for it (with a generous guard).
  for (const end = Date.now() + 10_000; readFileSync(path, 'utf8') === '' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readFileSync(path, 'utf8'), '{"type":"log","t":0,"message":"first"}\n', 'visible before close');
  w.flush();
  w.write({ type: 'step', t: 1.5, model: 'm', step: 0, epoch: 0, loss: NaN, gradNorm: 2, lr: 1e-3 });
  w.flush();
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[1].loss, null, 'non-finite numbers become null');
  w.close();
  assert.equal(w.count, 2);
  assert.throws(() => w.write({ type: 'log', t: 2, message: 'late' }), /closed/);
});
