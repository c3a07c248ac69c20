/**
 * How much RAM this process can really use: the machine's memory (os.totalmem) or, inside a container, the cgroup's
 * limit when it is lower — the limit the kernel's OOM killer enforces. The default host cap is a share of it, leaving
 * the rest to the runtime itself (Node, worker threads, the native addon), the page cache and the other processes.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** Share of physical RAM the host tier may hold when `hostMemory` is not set. */
export const DEFAULT_HOST_SHARE = 0.6;

export interface PhysicalMemory {
  /** The smaller of os.totalmem() and the cgroup limit. */
  bytes: number;
  totalmem: number;
  /** The cgroup (v2 memory.max, or v1 limit_in_bytes) limit when one is set. */
  cgroupLimit?: number;
}

/** A cgroup limit file's value: a byte count, or undefined for 'max' / absent / unreadable / unlimited. */
export function readCgroupLimit(paths = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']): number | undefined {
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const n = Number(text);
    // cgroup v1 writes a huge page-rounded number (≈ 2^63) for "no limit".
    if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
  }
  return undefined;
}

export function physicalMemory(): PhysicalMemory {
  const total = totalmem();
  const cgroupLimit = readCgroupLimit();
  return { bytes: Math.min(total, cgroupLimit ?? Infinity), totalmem: total, ...(cgroupLimit !== undefined ? { cgroupLimit } : {}) };
}

export function defaultHostMemory(ram: PhysicalMemory = physicalMemory()): number {
  return Math.floor(ram.bytes * DEFAULT_HOST_SHARE);
}
