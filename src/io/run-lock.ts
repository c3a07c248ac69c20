/**
 * An exclusive lock on a job's output directory for the life of the job, so two runs can never share one (they
 * would move each other's checkpoints, overwrite results and interleave events).
 *
 * The lock is a file, `<out_dir>/.hydra-lock`, created with O_EXCL (atomic on local file systems) holding the
 * owner's pid, host, start time and the kernel's start time of that process. It is removed when the job ends and at
 * process exit; after a crash (kill -9, power loss) it stays, and the next run finds it stale — its process is gone,
 * or the pid now belongs to a younger process — and takes it over. A lock from another host is never taken over
 * (its process cannot be checked from here); the error says which file to remove.
 *
 * Why not proper-lockfile: it detects staleness by mtime, so it must rewrite the lock every few seconds from a timer
 * (a job whose event loop is busy for longer than the stale time loses its lock) — a pid check needs no timer.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../data/atomic-write.js';

export const LOCK_NAME = '.hydra-lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the owner took the lock. */
  startedAt: string;
  /** The kernel's start time of the owner process (clock ticks since boot; Linux), to tell a reused pid apart. */
  processStart?: number;
  command?: string;
}

export class OutDirLockedError extends Error {
  constructor(readonly dir: string, readonly owner: LockOwner, readonly lockFile: string) {
    const remote = owner.host !== hostname() ? ` on host ${owner.host} (if that run is gone, remove ${lockFile})` : '';
    super(`out_dir ${dir} is in use by another hydra run: pid ${owner.pid}${remote}, started ${owner.startedAt}${owner.command ? ` (${owner.command})` : ''}; wait for it to end, or choose another out_dir (--out)`);
    this.name = 'OutDirLockedError';
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started (undefined where there is no /proc). */
function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Whether the lock's owner is certainly gone (only decidable for a lock taken on this host). */
function isStale(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return false;
  if (!processAlive(owner.pid)) return true;
  const now = processStartTime(owner.pid);
  return owner.processStart !== undefined && now !== undefined && now !== owner.processStart;
}

function readOwner(file: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null; // removed meanwhile
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    if (Number.isInteger(o.pid) && typeof o.host === 'string' && typeof o.startedAt === 'string') return o;
  } catch {
    // written half-way by an owner killed between open and write: treated below as an unknown owner
  }
  return { pid: 0, host: hostname(), startedAt: 'unknown (unreadable lock file)' };
}

const sameOwner = (a: LockOwner | null, b: LockOwner): boolean => a !== null && a.pid === b.pid && a.startedAt === b.startedAt && a.host === b.host;

/**
 * Move the stale lock `observed` out of the way. Between reading it and renaming, another run may already have taken
 * it over and created its own, live lock at the same path: the rename would then steal that live lock. So the renamed
 * file is checked, and a lock that is not the stale one is put back (link fails if yet another lock appeared, which
 * then stands). Returns whether the stale lock was removed.
 */
export function takeOverStale(file: string, observed: LockOwner): boolean {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return false; // someone else moved it first
  }
  const moved = readOwner(aside);
  if (!sameOwner(moved, observed)) {
    try {
      linkSync(aside, file);
    } catch {
      /* a newer lock exists: it stands */
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}

export interface RunLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Remove the lock (idempotent). */
  release(): void;
}

/** Take the lock on `dir` (which must exist), or throw OutDirLockedError naming the owner. */
export function lockOutDir(dir: string, command?: string): RunLock {
  const file = join(dir, LOCK_NAME);
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), processStart: processStartTime(process.pid), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock file ${file} (${(err as Error).message})`);
      const current = readOwner(file);
      if (current === null) continue;
      // An unreadable lock (pid 0) is stale only if it is not being written right now: give its writer a moment.
      if (current.pid === 0 && attempt < 2) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // a synchronous 100 ms pause
        continue;
      }
      if (!(current.pid === 0 || isStale(current))) throw new OutDirLockedError(dir, current, file);
      takeOverStale(file, current);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(owner));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.removeListener('exit', release);
      // Remove it only if it is still ours (never another run's lock that took over a lock we lost).
      if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
    };
    process.on('exit', release);
    return { file, owner, release };
  }
  throw new Error(`cannot take the lock ${file}: it keeps changing (another run starting at the same moment?)`);
}
