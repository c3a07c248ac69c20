/** The device shard cache on its own: version checks, LRU eviction by free-and-retry, and exact byte accounting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { DeviceOutOfMemoryError } from '../../src/backend/backend.js';
import { evictingBackend, ShardCache } from '../../src/hydra/run/shard-cache.js';

test('a resident shard is handed back only at its version; a stale one is freed', () => {
  const raw = new JsBackend({ budget: 1 << 20 });
  const cache = new ShardCache(raw);
  const be = evictingBackend(raw, cache);
  cache.put('m', 0, 3, new Map([['w', be.alloc(100)]]));
  assert.equal(raw.stats().inUse, 400);
  assert.ok(cache.has('m', 0, 3) && !cache.has('m', 0, 4));
  assert.equal(cache.take('m', 0, 4), null, 'a step landed since: stale');
  assert.equal(raw.stats().inUse, 0, 'the stale copy was freed');
  assert.equal(cache.totals.stale, 1);
  cache.put('m', 0, 4, new Map([['w', be.alloc(100)]]));
  const hit = cache.take('m', 0, 4)!;
  assert.equal(hit.values.get('w')!.bytes, 400);
  assert.equal(hit.state, null, 'a clean entry holds no optimizer state');
  assert.deepEqual({ hits: cache.totals.hits, hitBytes: cache.totals.hitBytes }, { hits: 1, hitBytes: 400 });
  be.free(hit.values.get('w')!);
});

test('an allocation that does not fit evicts least recently used entries, and fails only when nothing is left', () => {
  const raw = new JsBackend({ budget: 4000 });
  const cache = new ShardCache(raw);
  const be = evictingBackend(raw, cache);
  for (const s of [0, 1, 2]) cache.put('m', s, 0, new Map([['w', be.alloc(250)]])); // 3 × 1000 bytes
  assert.ok(cache.take('m', 0, 0)); // shard 0 is in use now; shard 1 is the least recently used entry
  const big = be.alloc(400); // 1600 bytes: 1000 in use + 2000 cached + 1600 > 4000 → evict shard 1 only
  assert.deepEqual(cache.resident().map((r) => r.shard), [2]);
  assert.equal(cache.totals.evictions, 1);
  assert.ok(raw.stats().highWater <= 4000);
  assert.throws(() => be.alloc(600), DeviceOutOfMemoryError, 'nothing left to evict: the budget holds');
  assert.equal(cache.resident().length, 0);
  be.free(big);
});

test('invalidate frees the entries holding stepped parameters; drop forgets a model', () => {
  const raw = new JsBackend({ budget: 1 << 20 });
  const cache = new ShardCache(raw);
  cache.put('m', 0, 0, new Map([['wte', raw.alloc(10)], ['h0', raw.alloc(10)]]));
  cache.put('m', 1, 0, new Map([['wte', raw.alloc(10)], ['lnf', raw.alloc(10)]]));
  cache.put('n', 0, 0, new Map([['wte', raw.alloc(10)]]));
  cache.invalidate('m', new Set(['h0']));
  assert.deepEqual(cache.resident().map((r) => `${r.modelId}${r.shard}`), ['m1', 'n0']);
  cache.drop('m');
  assert.deepEqual(cache.resident().map((r) => `${r.modelId}${r.shard}`), ['n0']);
  cache.clear();
  assert.equal(raw.stats().inUse, 0);
});

test('a dirty entry (device-resident optimizer state) is never evicted, never invalidated, and never found stale', () => {
  const raw = new JsBackend({ budget: 4000 });
  const cache = new ShardCache(raw);
  const be = evictingBackend(raw, cache);
  cache.put('m', 0, 5, new Map([['w', be.alloc(100)]]), new Map([['w', [be.alloc(100), be.alloc(100)]]])); // 1200 bytes
  cache.put('m', 1, 0, new Map([['u', be.alloc(250)]])); // 1000 bytes, clean
  assert.deepEqual(cache.dirty().map((e) => e.shard), [0]);
  cache.invalidate('m', new Set(['w']));
  assert.equal(cache.dirty().length, 1, 'stepped on the device: the host stepped nothing of it');
  const big = be.alloc(600); // 2400 bytes: evicts the clean entry, not the older dirty one
  assert.deepEqual(cache.resident().map((r) => r.shard), [0]);
  assert.throws(() => be.alloc(200), DeviceOutOfMemoryError, 'only dirty state is left: the allocation fails instead of losing it');
  assert.throws(() => cache.take('m', 0, 4), /bookkeeping bug/, 'the only current copy at another version is a bug, not a stale copy');
  const dirty = cache.dirty()[0];
  cache.markClean(dirty); // written back: the state goes, the values stay as a clean entry
  assert.equal(raw.stats().inUse, 2400 + 400);
  assert.equal(cache.bytes, 400);
  assert.ok(cache.evictOne(), 'clean now: evictable');
  be.free(big);
  assert.equal(raw.stats().inUse, 0);
});

test('a kernel that takes scratch memory inside the backend (webgpu: split-K gemm, sumSquares) evicts cached shards for it, as an allocation does', () => {
  const js = new JsBackend({ budget: 4000 });
  // As webgpu does: sumSquares takes a 2000-byte scratch buffer from the budget itself, past the evicting view's
  // alloc, and deviceBytes says so.
  const raw = new Proxy(js, {
    get(t, prop) {
      if (prop === 'deviceBytes') return { of: (bytes: number) => bytes, scratch: (kernel: string) => (kernel === 'sumSquares' ? [2000] : []) };
      if (prop === 'sumSquares') return (...a: Parameters<JsBackend['sumSquares']>) => {
        t.free(t.alloc(500));
        t.sumSquares(...a);
      };
      const v = Reflect.get(t, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  const cache = new ShardCache(raw);
  const be = evictingBackend(raw, cache);
  const x = be.alloc(100), out = be.alloc(1);
  be.fill(x, 0.5);
  cache.put('m', 0, 0, new Map([['w', be.alloc(500)]])); // 2000 bytes: 2404 in use, 2000 more do not fit
  be.sumSquares(out, 0, x, 100);
  assert.equal(cache.totals.evictions, 1, 'the cached shard made room for the scratch');
  assert.equal(js.stats().inUse, 404);
  cache.put('m', 0, 0, new Map([['w', be.alloc(250)]]), new Map([['w', [be.alloc(250)]]])); // dirty: never evicted
  assert.throws(() => be.sumSquares(out, 0, x, 100), DeviceOutOfMemoryError, 'only dirty state is left: the kernel fails instead of losing it');
  cache.clear();
  be.free(x);
  be.free(out);
});
