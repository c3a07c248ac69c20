/**
 * The cpu addon's buffer table keeps freed memory for the next buffer of the same size (native/buffers.cc): a shard
 * task allocates the same buffers every time it runs, and fresh memory costs a page fault and a page clear on first
 * touch. These tests pin down that memory is reused, that the table never holds more than its own peak of live bytes,
 * and that host-tier arrays get transparent huge pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cpuAddonInfo, loadCpuAddon } from '../../src/backend/native-loader.js';
import { createCpuBackend } from '../../src/backend/cpu.js';
import { adviseHugePages, HUGE_PAGE_MIN_BYTES } from '../../src/hydra/tier/huge-pages.js';
import { Rand } from './helpers.js';

const MiB = 1 << 20;
/** What the table allocates for `floats` elements: 2 MiB multiples from 16 MiB up, 64-byte multiples below. */
const rounded = (floats: number) => {
  const bytes = floats * 4, align = bytes >= 16 * MiB ? 2 * MiB : 64;
  return Math.ceil(bytes / align) * align;
};

test('cpu buffer cache: a buffer freed and allocated again at the same size reuses the memory', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dev = new (loadCpuAddon().CpuDevice)(1);
  try {
    const n = 3 * MiB; // 12 MiB
    dev.free(dev.alloc(n, 0));
    const before = dev.memoryStats();
    assert.equal(before.cachedBytes, rounded(n), 'the freed buffer is kept');
    const id = dev.alloc(n, 0);
    const after = dev.memoryStats();
    assert.equal(after.reused, before.reused + 1, 'the second allocation reused it');
    assert.equal(after.allocated, before.allocated, 'no fresh allocation');
    assert.equal(after.cachedBytes, 0);
    assert.equal(after.liveBytes, rounded(n));
    dev.free(id);
    // A different size cannot use it: a fresh allocation.
    dev.free(dev.alloc(n + 16, 0));
    assert.equal(dev.memoryStats().allocated, before.allocated + 1);
  } finally {
    dev.dispose();
  }
  assert.equal(dev.memoryStats().cachedBytes, 0, 'dispose gives the cache back');
});

test('cpu buffer cache: live + cached bytes never exceed the peak of live bytes, at any point of a random run', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dev = new (loadCpuAddon().CpuDevice)(1);
  const r = new Rand(7);
  const sizes = [1000, 64 * 1024, 1 << 20, 5 << 20]; // 4 KB to 20 MiB: both alignments
  const live = new Map<number, number>();
  let liveBytes = 0, peak = 0, reused = 0;
  try {
    for (let i = 0; i < 400; i++) {
      if (live.size > 0 && (live.size > 6 || r.next() < 0.5)) {
        const ids = [...live.keys()];
        const id = ids[Math.floor(r.next() * ids.length)];
        dev.free(id);
        liveBytes -= live.get(id)!;
        live.delete(id);
      } else {
        const n = sizes[Math.floor(r.next() * sizes.length)];
        live.set(dev.alloc(n, 0), rounded(n));
        liveBytes += rounded(n);
        peak = Math.max(peak, liveBytes);
      }
      const s = dev.memoryStats();
      assert.equal(s.liveBytes, liveBytes, `step ${i}: live bytes`);
      assert.equal(s.liveHighWater, peak, `step ${i}: high-water mark`);
      assert.ok(s.liveBytes + s.cachedBytes <= s.liveHighWater, `step ${i}: ${s.liveBytes} live + ${s.cachedBytes} cached > peak ${s.liveHighWater}`);
      reused = s.reused;
    }
    assert.ok(reused > 100, `the cache was used: ${reused} of the allocations reused memory`);
  } finally {
    dev.dispose();
  }
});

/** THP mode from sysfs: always, madvise or never (undefined without THP). */
function thpMode(): string | undefined {
  const p = '/sys/kernel/mm/transparent_hugepage/enabled';
  return existsSync(p) ? /\[(\w+)\]/.exec(readFileSync(p, 'utf8'))?.[1] : undefined;
}

test('host tier arrays: huge-page advice covers the whole 2 MiB pages inside and cuts first-touch page faults', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  assert.equal(adviseHugePages(new SharedArrayBuffer(HUGE_PAGE_MIN_BYTES - 1)), 0, 'small arrays are left alone');
  const bytes = 64 * MiB;
  const b = new SharedArrayBuffer(bytes);
  const advised = adviseHugePages(b);
  assert.ok(advised >= bytes - 2 * MiB && advised <= bytes, `advised ${advised} of ${bytes} bytes`);
  const mode = thpMode();
  if (mode === undefined || mode === 'never') return t.skip(`this kernel gives no transparent huge pages (THP ${mode ?? 'absent'}): nothing to measure`);
  const f = new Float32Array(b);
  const faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < f.length; i += 1024) f[i] = 1; // one write per 4 KiB page
  const touched = process.resourceUsage().minorPageFault - faults;
  // 16,384 faults at 4 KiB pages; 32 at 2 MiB (plus the unaligned edges). Generous: a quarter.
  assert.ok(touched < bytes / 4096 / 4, `${touched} page faults touching ${bytes / MiB} MiB`);
});

/**
 * The arena (native/arena.h): with the device budget given, buffers come from one region of that size, best fit,
 * and freed blocks merge with their free neighbours, so a cycle of tasks whose buffers differ in size (a block's
 * activations, then a head's weight and gradient) stops taking fresh memory after its first round.
 */
test('cpu arena: a cycle of differently sized buffers takes no fresh memory after its first round; without the arena it does', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  // Floats per buffer, task by task: each task's buffers are freed before the next task allocates its own.
  const tasks = [[MiB, MiB / 4, MiB / 4], [3 * MiB, MiB / 2], [MiB / 4, MiB / 4, MiB / 4, MiB / 8], [2 * MiB, 2 * MiB]];
  const budget = 4 * 4 * MiB; // 16 MiB: every task's live bytes fit
  const run = (arena: number) => {
    const dev = new (loadCpuAddon().CpuDevice)(1, arena);
    try {
      const round = () => {
        for (const sizes of tasks) {
          const ids = sizes.map((n) => dev.alloc(n, 0));
          for (const id of ids) dev.free(id);
        }
      };
      round();
      const warm = dev.memoryStats();
      for (let i = 0; i < 5; i++) round();
      const s = dev.memoryStats();
      return { fresh: s.allocated - warm.allocated, served: s.arenaServed - warm.arenaServed, arenaBytes: s.arenaBytes };
    } finally {
      dev.dispose();
    }
  };
  const withArena = run(budget);
  const perRound = tasks.flat().length;
  assert.ok(withArena.arenaBytes >= budget, `the arena is reserved: ${withArena.arenaBytes} bytes`);
  assert.equal(withArena.fresh, 0, 'no fresh allocation after the first round');
  assert.equal(withArena.served, 5 * perRound, 'the arena served every allocation');
  const without = run(0);
  assert.equal(without.arenaBytes, 0);
  assert.ok(without.fresh > 0, 'the exact-size cache alone takes fresh memory every round (what the arena is for)');
});

test('cpu arena: freed neighbours merge into one block; what does not fit is allocated outside it', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dev = new (loadCpuAddon().CpuDevice)(1, 8 * MiB);
  try {
    const whole = dev.memoryStats().arenaBytes / 4; // floats in the region (8 MiB rounded up to 2 MiB: 8 MiB)
    assert.equal(whole, 2 * MiB);
    const parts = [whole / 4, whole / 4, whole / 4, whole / 4].map((n) => dev.alloc(n, 0));
    assert.equal(dev.memoryStats().arenaServed, 4);
    // Free in an order that merges on both sides: middle ones first, then the ends.
    for (const i of [1, 2, 0, 3]) dev.free(parts[i]);
    const before = dev.memoryStats();
    const all = dev.alloc(whole, 0);
    assert.equal(dev.memoryStats().arenaServed, before.arenaServed + 1, 'the merged region holds a buffer of its whole size');
    const over = dev.alloc(16, 0);
    const after = dev.memoryStats();
    assert.equal(after.arenaServed, before.arenaServed + 1, 'a full arena serves nothing more');
    assert.equal(after.allocated, before.allocated + 1, 'the table allocated it outside the arena');
    dev.free(over);
    dev.free(all);
  } finally {
    dev.dispose();
  }
});

test('cpu backend stats: outsideRegion counts the buffers a fragmented arena could not hold; no budget, no region and no count', (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  // 63 × 2 MiB: the region (budget + 1/64, in 2 MiB pages) is 64 × 2 MiB, so the slack past the budget is 2 MiB.
  const budget = 126 * MiB;
  const be = createCpuBackend({ threads: 1, budget });
  try {
    assert.equal(be.stats().outsideRegion, 0);
    // 40 % + 20 % + 40 % of the budget, then the two ends freed: 80 % free, in two holes of 40 % (the second with
    // the 2 MiB slack after it).
    const floats = (share: number) => Math.floor((share * budget) / 4 / 64) * 64;
    const [a, b, c] = [0.4, 0.2, 0.4].map((x) => be.alloc(floats(x)));
    be.free(a);
    be.free(c);
    const d = be.alloc(floats(0.3)); // fits a hole
    assert.equal(be.stats().outsideRegion, 0, 'a buffer that fits a hole comes from the arena');
    const e = be.alloc(floats(0.45)); // within the budget (95 % in use), but no hole holds it
    assert.equal(be.stats().outsideRegion, 1, 'the budget allowed it, the fragmented arena could not hold it');
    for (const x of [b, d, e]) be.free(x);
  } finally {
    be.dispose();
  }
  const unbounded = createCpuBackend({ threads: 1 });
  try {
    unbounded.free(unbounded.alloc(1024));
    assert.equal(unbounded.stats().outsideRegion, undefined, 'no budget: no region, nothing to count');
  } finally {
    unbounded.dispose();
  }
});

test('cpu arena: live buffers never overlap, at any point of a random run of allocations and frees', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const dev = new (loadCpuAddon().CpuDevice)(1, 4 * MiB);
  const r = new Rand(11);
  const live = new Map<number, { n: number; value: number }>();
  let value = 1;
  try {
    for (let i = 0; i < 600; i++) {
      if (live.size > 0 && (live.size > 12 || r.next() < 0.45)) {
        const ids = [...live.keys()];
        const id = ids[Math.floor(r.next() * ids.length)];
        dev.free(id);
        live.delete(id);
      } else {
        // 1 to ~160 KiB, odd sizes included: 64-byte rounding, splits and merges of every kind.
        const n = 1 + Math.floor(r.next() * r.next() * 40_000);
        const id = dev.alloc(n, 0);
        dev.fill(id, value, n, 0);
        live.set(id, { n, value: value++ });
      }
      // After every step, every live buffer still holds its own value: no allocation was placed over a live one.
      for (const [id, b] of live) {
        const got = new Float32Array(b.n);
        await dev.download(id, got, 0, b.n);
        const bad = got.findIndex((x) => x !== b.value);
        assert.equal(bad, -1, `step ${i}: buffer ${id} (${b.n} floats) lost its value ${b.value} at ${bad}: ${got[bad]}`);
      }
    }
    assert.ok(dev.memoryStats().arenaServed > 250, 'the arena served the allocations');
  } finally {
    dev.dispose();
  }
});
