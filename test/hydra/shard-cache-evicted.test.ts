/** The shard cache counts a shard copied in again after it evicted it at that version (an eviction before use). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { evictingBackend, ShardCache } from '../../src/hydra/run/shard-cache.js';

test('a copy of a shard evicted at the same version counts as an eviction before use; a newer version does not', () => {
  const raw = new JsBackend({ budget: 2000 });
  const cache = new ShardCache(raw);
  const be = evictingBackend(raw, cache);
  cache.put('m', 0, 3, new Map([['w', be.alloc(250)]]));
  cache.put('m', 1, 3, new Map([['w', be.alloc(250)]]));
  const big = be.alloc(250); // evicts shard 0 (least recently used)
  assert.equal(cache.totals.evictions, 1);
  cache.copiedIn('m', 1, 3);
  assert.equal(cache.totals.evictedBeforeUse, 0, 'shard 1 was never evicted');
  cache.copiedIn('m', 0, 3);
  assert.equal(cache.totals.evictedBeforeUse, 1, 'shard 0 was evicted at version 3 and is needed at version 3');
  cache.copiedIn('m', 0, 3);
  assert.equal(cache.totals.evictedBeforeUse, 1, 'counted once per eviction');
  be.free(big);
  cache.put('m', 0, 3, new Map([['w', be.alloc(250)]]));
  be.free(be.alloc(400)); // evicts shard 1 at version 3
  cache.copiedIn('m', 1, 4);
  assert.equal(cache.totals.evictedBeforeUse, 1, 'a step landed since the eviction: the copy was due anyway');
});
