/**
 * Scratch files of the disk tier: one per model, named `hydra-scratch-<pid>-<random>.spill` so that they can never be
 * taken for checkpoints (`*.ckpt`) or for another job's scratch. They are deleted when the job ends (and on any
 * process exit Node still runs handlers for); a crash (kill -9) leaves them, and the next job that uses the same
 * spill directory removes every scratch file whose process is gone.
 *
 * I/O is pread/pwrite at explicit offsets through Node's fs, which runs them on libuv's thread pool: the main thread
 * never blocks on the disk, and several requests of a large transfer are in flight at once. A file grows as it is
 * written (a region never written reads as zeros, the optimizer's fresh state), so a disk that fills shows up as the
 * failing write, named, not as a file that could not be created.
 */
import { closeSync, openSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { processAlive } from '../../data/atomic-write.js';

const NAME = /^hydra-scratch-(\d+)-[0-9a-f]+\.spill$/;
/** Bytes per request of a large transfer: large enough for sequential bandwidth, small enough to pipeline. */
export const IO_REQUEST = 8 << 20;
/** Requests of one transfer in flight at once (libuv's pool has 4 threads by default). */
const IN_FLIGHT = 4;
/** Arrays start at multiples of this in a scratch file: page-aligned I/O. */
export const ALIGN = 4096;

export class DiskTierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskTierError';
  }
}

/** Remove scratch files left in `dir` by processes that no longer run; returns the paths removed. */
export function sweepScratch(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

const open_ = new Set<string>();
let exitHook = false;
function removeOnExit(path: string): void {
  open_.add(path);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of open_) rmSync(p, { force: true });
  });
}

export class ScratchFile {
  private closed = false;
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  /** A new, empty scratch file in `dir`. */
  static async create(dir: string): Promise<ScratchFile> {
    const path = join(dir, `hydra-scratch-${process.pid}-${randomBytes(6).toString('hex')}.spill`);
    // O_EXCL: a name that exists is never reused.
    closeSync(openSync(path, 'wx'));
    removeOnExit(path);
    return new ScratchFile(path, await open(path, 'r+'));
  }

  /** Read `dst.byteLength` bytes at `offset` into dst. */
  async read(dst: Float32Array, offset: number): Promise<void> {
    await this.transfer(dst, offset, false);
  }

  /** Write src at `offset`. A full disk (ENOSPC, EFBIG) rejects with an error naming the file. */
  async write(src: Float32Array, offset: number): Promise<void> {
    await this.transfer(src, offset, true);
  }

  private async transfer(a: Float32Array, offset: number, write: boolean): Promise<void> {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let next = 0;
    const worker = async () => {
      while (next < bytes.length) {
        const at = next;
        const len = Math.min(IO_REQUEST, bytes.length - at);
        next += len;
        let done = 0;
        while (done < len) {
          const part = bytes.subarray(at + done, at + len);
          let n: number;
          try {
            n = write ? (await this.fh.write(part, 0, part.length, offset + at + done)).bytesWritten : (await this.fh.read(part, 0, part.length, offset + at + done)).bytesRead;
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            throw new DiskTierError(`disk tier: cannot ${write ? 'write' : 'read'} ${this.path}: ${code ?? (e as Error).message}${code === 'ENOSPC' || code === 'EFBIG' ? ' (the disk holding spillDir is full)' : ''}`);
          }
          if (n === 0 && !write) {
            // Past the end of the file: never written, so zeros.
            part.fill(0);
            n = part.length;
          }
          if (n === 0) throw new DiskTierError(`disk tier: short write at byte ${offset + at + done} of ${this.path}`);
          done += n;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.ceil(bytes.length / IO_REQUEST)) }, worker));
  }

  /** Close and delete the file (idempotent). */
  async remove(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
    rmSync(this.path, { force: true });
    open_.delete(this.path);
  }
}
