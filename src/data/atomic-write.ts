/**
 * Atomic file replacement: write a temp file in the destination's directory, fsync it, rename it over the
 * destination, fsync the directory. A crash at any point leaves either the old file or the complete new one (plus
 * at worst a stray `.<name>.tmp-<pid>-*` file, which `sweepStaleTemps` removes once its process is gone), never a
 * half-written destination. A failure is a FileWriteError naming the destination. Lives in data/ because both data/
 * (token cache) and io/ (checkpoints, safetensors) use it and io/ may depend on data/, not the reverse.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/** True for temp files this module creates (for clean-up tools). */
export function isAtomicTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * One write call moves at most this many bytes: Node 20's fs binding asserts that a length fits an int32 (a 2 GiB
 * tensor aborted the process), and smaller calls keep each kernel call short.
 */
export const MAX_IO_BYTES = 1 << 30;

/** A failed write that names the file (Node's ENOSPC/EFBIG on a file descriptor names none). */
export class FileWriteError extends Error {
  readonly code: string | undefined;
  constructor(readonly path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const detail = cause instanceof Error ? cause.message.replace(/^\w+: /, '').replace(/, (write|open|fsync|rename|close)( '.*')?$/, '') : String(cause);
    super(`cannot write ${path}: ${code ? `${code} (${detail})` : detail}`);
    this.name = 'FileWriteError';
    this.code = code;
  }
}

const named = (path: string, err: unknown): Error => (err instanceof FileWriteError ? err : new FileWriteError(path, err));

/** Whether a process with this pid exists (EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp files left by atomic writes of processes that no longer run (a kill during a checkpoint write leaves
 * one, as large as the checkpoint), in `dir` and its subdirectories down to `depth` levels. Returns the paths
 * removed. Files of live processes are never touched: they may be being written right now.
 */
export function sweepStaleTemps(dir: string, depth = 3): string[] {
  const removed: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth > 0) removed.push(...sweepStaleTemps(p, depth - 1));
      continue;
    }
    const m = TEMP_NAME.exec(e.name);
    if (!m || !e.isFile()) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(p, { force: true });
    removed.push(p);
  }
  return removed;
}

function fsyncDirSync(dir: string): void {
  // Directories cannot be opened for fsync on every platform (Windows); durability of the rename is best-effort there.
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* not supported here */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeFileAtomicSync(path: string, chunks: Iterable<Uint8Array>): void {
  let fd: number;
  const tmp = tempPathFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, 'wx');
  } catch (err) {
    throw named(path, err);
  }
  let closed = false;
  try {
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, Math.min(chunk.byteLength - off, MAX_IO_BYTES));
    }
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(tmp, path);
  } catch (err) {
    // Close only if still ours: a closed fd number may already belong to someone else.
    if (!closed) closeSync(fd);
    rmSync(tmp, { force: true });
    throw named(path, err);
  }
  fsyncDirSync(dirname(path));
}

/**
 * `chunks` may be produced while they are written (an async generator reusing one buffer: each chunk is written before
 * the next is asked for), so a file larger than RAM can be written in bounded memory. `head`, when given, is written
 * over the file's first bytes once every chunk is (a header whose checksums are known only at the end; same length).
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, head?: () => Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    await mkdir(dirname(path), { recursive: true });
    fh = await open(tmp, 'wx');
  } catch (err) {
    throw named(path, err);
  }
  let closed = false;
  try {
    let at = 0;
    for await (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off, Math.min(chunk.byteLength - off, MAX_IO_BYTES), at + off)).bytesWritten;
      at += chunk.byteLength;
    }
    if (head) {
      const h = head();
      let off = 0;
      while (off < h.byteLength) off += (await fh.write(h, off, h.byteLength - off, off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
    closed = true;
    await rename(tmp, path);
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw named(path, err);
  }
  fsyncDirSync(dirname(path));
}
