/**
 * The preflight, before any model trains: what the plan puts in RAM against the host cap and against the RAM the
 * machine really has, and what it puts on disk against the free space where the scratch files go. A job that cannot
 * run is refused here, naming the numbers and what to change — not killed by the OOM killer or a full disk an hour in.
 */
import { accessSync, constants, mkdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../units.js';
import type { PhysicalMemory } from './physical-memory.js';

export class PreflightError extends Error {
  constructor(message: string) {
    super(`preflight: ${message}`);
    this.name = 'PreflightError';
  }
}

export interface PreflightInput {
  /** Bytes the plan holds in the host tier (pinned state, staging, chunk buffers). */
  hostBytes: number;
  /** The least the host tier could hold with as much on disk as helps (placement.ts: hostFloor). */
  hostFloor: number;
  /** Bytes of scratch the plan puts on disk. */
  diskBytes: number;
  /** The host cap (`hostMemory`). */
  hostCap: number;
  /** Whether the cap was set by the user (else it is the default share of RAM). */
  hostCapGiven: boolean;
  ram: PhysicalMemory;
  /** Where scratch goes; free space is read from it (after ensureSpillDir). */
  spillDir?: string;
  /** Free bytes at spillDir (statfs); read when absent. */
  diskFree?: number;
}

/** Bytes free for an unprivileged writer on the file system holding `dir`. */
export function freeDiskBytes(dir: string): number {
  const s = statfsSync(dir, { bigint: true });
  return Number(s.bavail * s.bsize);
}

function ramWords(ram: PhysicalMemory): string {
  return ram.cgroupLimit !== undefined && ram.cgroupLimit < ram.totalmem
    ? `${formatBytes(ram.bytes)} (the cgroup limit; the machine has ${formatBytes(ram.totalmem)})`
    : formatBytes(ram.bytes);
}

export function preflight(p: PreflightInput): void {
  if (p.hostCap > p.ram.bytes && Math.min(p.hostBytes, p.hostCap) > p.ram.bytes) {
    throw new PreflightError(
      `hostMemory is ${formatBytes(p.hostCap)} and the plan holds ${formatBytes(p.hostBytes)} in RAM, more than the ${ramWords(p.ram)} of RAM this ` +
        `process may use: it would be killed for memory. Lower hostMemory below ${formatBytes(p.ram.bytes)} (the rest of the state then goes to disk).`,
    );
  }
  if (p.hostFloor > p.hostCap) {
    throw new PreflightError(
      `the job needs at least ${formatBytes(p.hostFloor)} in RAM with as much on disk as helps (batches, boundary activations and tied ` +
        `parameters' values and gradients stay in RAM, and shards on disk need staging slots), more than hostMemory ${formatBytes(p.hostCap)}${p.hostCapGiven ? '' : ` (the default, ${Math.round((p.hostCap / p.ram.bytes) * 100)}% of ${ramWords(p.ram)})`}. ` +
        `Raise hostMemory, train fewer models at once, or lower the batch (task.train.B) or the sequence length (task.train.T).`,
    );
  }
  if (p.diskBytes > 0) {
    if (!p.spillDir) throw new PreflightError(`the plan puts ${formatBytes(p.diskBytes)} on disk but no spillDir is set`);
    const free = p.diskFree ?? freeDiskBytes(p.spillDir);
    if (p.diskBytes > free) {
      throw new PreflightError(
        `the plan puts ${formatBytes(p.diskBytes)} of state on disk at spillDir ${p.spillDir}, which has ${formatBytes(free)} free. ` +
          `Free space there, point spillDir at a larger disk, or raise hostMemory (now ${formatBytes(p.hostCap)}) so less goes to disk.`,
      );
    }
  }
}

/**
 * The spill directory exists (or, when `create`, is created) and takes a file: a typo or a read-only mount fails
 * here, before planning, with the field and the path.
 */
export function ensureSpillDir(dir: string, create: boolean, field = 'spillDir'): void {
  if (create) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new PreflightError(`${field}: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new PreflightError(`${field}: ${dir} does not exist (create it, or point ${field} at a directory on a disk with room for the scratch files)`);
  }
  if (!isDir) throw new PreflightError(`${field}: ${dir} is not a directory`);
  const probe = join(dir, `.hydra-probe-${process.pid}`);
  try {
    accessSync(dir, constants.W_OK);
    writeFileSync(probe, '');
  } catch (e) {
    throw new PreflightError(`${field}: cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); point ${field} at a writable directory`);
  } finally {
    rmSync(probe, { force: true });
  }
}
