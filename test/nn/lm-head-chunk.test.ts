/**
 * The LM head's chunking: as few chunks as fit the logits bound, the rows spread evenly over them (no short remainder
 * chunk whose dW GEMM has a small inner dimension), and at GPT-mini's shape chunks of well over a hundred rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAD_CHUNK_BYTES, headChunkRows } from '../../src/nn/lm-head.js';

test('head chunks: fewest chunks within the byte bound, rows spread evenly', () => {
  for (const [N, V, bytes] of [[2048, 50257, HEAD_CHUNK_BYTES], [1024, 49152, HEAD_CHUNK_BYTES], [111, 500, 7 * 500 * 4], [32, 97, 5 * 97 * 4], [1000, 10, 4096], [5, 1000, 1]]) {
    const rows = headChunkRows(N, V, bytes);
    const chunks = Math.ceil(N / rows);
    const most = Math.max(1, Math.floor(bytes / (V * 4)));
    assert.ok(rows <= Math.min(N, most), `N ${N} V ${V} bound ${bytes}: ${rows} rows exceed the bound (${most} rows)`);
    assert.equal(chunks, Math.ceil(N / Math.min(N, most)), `N ${N} V ${V} bound ${bytes}: not the fewest chunks`);
    const lastRows = N - (chunks - 1) * rows;
    assert.ok(lastRows > rows - chunks, `N ${N} V ${V} bound ${bytes}: last chunk ${lastRows} rows against ${rows}`);
  }
  // GPT-mini, batch 8×256: 15 chunks of 137 rows (the dW GEMM's inner dimension), not 50 of 41.
  assert.equal(headChunkRows(2048, 50257), 137);
});
