import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, csvLine, renderResultsCsv } from '../../src/report/results-csv.js';
import { fakeJob } from './fixtures.js';

test('CSV fields are quoted only when needed; quotes are doubled', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rhere'), '"cr\rhere"');
  assert.equal(csvField(0.0003), '0.0003');
  assert.equal(csvField(NaN), 'NaN');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(true), 'true');
  assert.equal(csvLine(['lr=3e-4,bs=8', 1, '']), '"lr=3e-4,bs=8",1,');
});

/** Minimal RFC 4180 reader, to check the file round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

test('results.csv: header with hyper-parameter columns, one row per model, best first, round-trips', () => {
  const text = renderResultsCsv(fakeJob(), new Map([['lr=5e-4,bs=2', 'models/lr=5e-4,bs=2']]));
  const rows = parseCsv(text);
  assert.deepEqual(rows[0], [
    'rank', 'name', 'lr', 'batch_size', 'status', 'reason', 'steps', 'final_train_loss', 'final_eval_loss', 'final_eval_perplexity',
    'device_seconds', 'wall_seconds', 'shards', 'weights_dir',
  ]);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[1].slice(0, 9), ['1', 'lr=5e-4,bs=2', '0.0005', '2', 'done', '', '3', '6.5', '7.1']);
  assert.equal(rows[1][13], 'models/lr=5e-4,bs=2');
  const failed = rows[5];
  assert.equal(failed[1], 'lr=3e-3,bs=2');
  assert.equal(failed[5], 'task FL1 of step 0 failed on device 1: boom, "quoted", comma');
  assert.ok(rows.every((r) => r.length === rows[0].length));
});
