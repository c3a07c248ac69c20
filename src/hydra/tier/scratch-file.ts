/**
 * Scratch files of the disk tier: one per model, named `hydra-scratch-<pid>-<random>.spill` so that they can never be
 * taken for checkpoints (`*.ckpt`) or for another job's scratch. They are deleted when the job ends (and on any
 * process exit Node still runs handlers for); a crash (kill -9) leaves them, and the next job that uses the same
 * spill directory removes every scratch file whose process is gone.
 *
 * I/O is pread/pwrite at explicit offsets on libuv's thread pool: the main thread never blocks on the disk, and
 * several requests of a large transfer are in flight at once. Where the file system accepts it, the file is opened
 * with O_DIRECT (the native addon, native/direct-io.cc): spilled state bypasses the page cache, so it is not held a
 * second time in RAM and a read really comes from the disk. Where O_DIRECT is refused (EINVAL: some file systems) or
 * the addon is missing, the file falls back to buffered I/O through Node's fs, with the same results. A file grows
 * as it is written (a region never written reads as zeros, the optimizer's fresh state), so a disk that fills shows
 * up as the failing write, named, not as a file that could not be created.
 */
import { closeSync, openSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { processAlive } from '../../data/atomic-write.js';
import { loadCpuAddon, optionalCpuAddon, type NativeCpuAddon } from '../../backend/native-loader.js';

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

/** The addon's direct I/O (tests pass one whose open is refused, as on a file system without O_DIRECT). */
export type DirectIo = Pick<NativeCpuAddon, 'directOpen' | 'directClose' | 'directTransfer'>;

/**
 * Bytes from the start of `buffer` to its first ALIGN-aligned byte (0 without the addon: then no I/O is direct). An
 * array that starts there, at an aligned file offset, moves straight between the disk and its memory: no bounce copy
 * on a pool thread (native/direct-io.cc), whose CPU the compute threads would otherwise share.
 */
export function alignPad(buffer: ArrayBufferLike): number {
  const addon = optionalCpuAddon();
  return !addon || buffer.byteLength === 0 ? 0 : (ALIGN - addon.directAddressMod(new Uint8Array(buffer, 0, 1))) % ALIGN;
}

/** How a scratch file does its I/O: O_DIRECT, or buffered through the page cache and why. */
export type ScratchIoMode = { direct: true } | { direct: false; why: string };

function nativeDirectIo(): DirectIo | string {
  try {
    return loadCpuAddon();
  } catch (e) {
    return (e as Error).message;
  }
}

export class ScratchFile {
  private closed = false;
  private constructor(
    readonly path: string,
    private readonly io: { fh: FileHandle } | { fd: number; native: DirectIo },
    readonly mode: ScratchIoMode,
  ) {}

  /** A new, empty scratch file in `dir`; `direct`: the O_DIRECT implementation (default the native addon's). */
  static async create(dir: string, direct: DirectIo | string = nativeDirectIo()): Promise<ScratchFile> {
    const path = join(dir, `hydra-scratch-${process.pid}-${randomBytes(6).toString('hex')}.spill`);
    // O_EXCL: a name that exists is never reused.
    closeSync(openSync(path, 'wx'));
    removeOnExit(path);
    let why = typeof direct === 'string' ? `no direct I/O: ${direct}` : '';
    if (typeof direct !== 'string') {
      try {
        return new ScratchFile(path, { fd: direct.directOpen(path), native: direct }, { direct: true });
      } catch (e) {
        why = `O_DIRECT refused (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      }
    }
    return new ScratchFile(path, { fh: await open(path, 'r+') }, { direct: false, why });
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
        // Requests end at multiples of IO_REQUEST in the file: two requests never share a block (a direct write of a
        // partial block reads, merges and writes it whole).
        const len = Math.min(IO_REQUEST - ((offset + at) % IO_REQUEST), bytes.length - at);
        next += len;
        let done = 0;
        while (done < len) {
          const part = bytes.subarray(at + done, at + len);
          let n: number;
          try {
            n = await this.request(part, offset + at + done, write);
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
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.ceil(bytes.length / IO_REQUEST) + 1) }, worker));
  }

  /** One request: bytes transferred (a direct request always does all of it, zeros past the end of the file). */
  private async request(part: Uint8Array, at: number, write: boolean): Promise<number> {
    const io = this.io;
    if ('fd' in io) {
      await io.native.directTransfer(io.fd, part, at, write);
      return part.length;
    }
    return write ? (await io.fh.write(part, 0, part.length, at)).bytesWritten : (await io.fh.read(part, 0, part.length, at)).bytesRead;
  }

  /** Close and delete the file (idempotent). */
  async remove(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if ('fd' in this.io) this.io.native.directClose(this.io.fd);
    else await this.io.fh.close().catch(() => undefined);
    rmSync(this.path, { force: true });
    open_.delete(this.path);
  }
}
