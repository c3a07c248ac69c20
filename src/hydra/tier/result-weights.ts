/**
 * Where a job's result keeps its models' final weights without breaking the host cap. A parameter whose values the
 * host tier holds is handed to the result as a view of that array (no copy: its bytes are already inside
 * `hostMemory`). A parameter whose values live on the disk tier is copied, piece by piece, into one result file in
 * the spill directory and read back each time its tensor's `data` is read — so the result of a job larger than RAM
 * never holds its models whole in memory. The file is unlinked as soon as it is opened: nothing is left on disk when
 * the process ends (crashed or not), and it is never taken for a checkpoint or another job's scratch; its space is
 * freed once the result's tensors are garbage-collected (or the process exits).
 */
import { closeSync, openSync, readSync, rmSync, write } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HostTensor } from '../../nn/host-tensor.js';
import { STREAM_PIECE } from '../../io/streamed-tensor.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import type { ModelPlacement } from './placement.js';

const writeAsync = promisify(write);

/** Bytes of final weights a model's result keeps in the result file: its parameters whose values live on disk. */
export function weightsOnDiskBytes(rt: ModelRuntime, m: ModelPlacement): number {
  return rt.params.reduce((a, p) => a + (m.home.get(p.spec.name) === 'disk' ? 4 * p.n : 0), 0);
}

/** Closes a result file once nothing can read it any more. */
const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed (the process is ending)
  }
});

/** A result tensor whose values are read from the result file on every access of `data` (a new array each time). */
class FileTensor implements HostTensor {
  constructor(
    readonly shape: number[],
    private readonly file: ResultWeightsFile,
    private readonly at: number,
    private readonly n: number,
  ) {}

  get data(): Float32Array {
    return this.file.read(this.at, this.n);
  }
}

export class ResultWeightsFile {
  /** Bytes written (the file's length). */
  bytes = 0;
  private readonly fd: number;
  /** A piece of a tensor on its way to the file (one at a time). */
  private piece = new Float32Array(0);

  constructor(dir: string) {
    const path = join(dir, `hydra-scratch-${process.pid}-${randomBytes(6).toString('hex')}.spill`);
    this.fd = openSync(path, 'wx+');
    rmSync(path); // unlinked: the descriptor keeps it readable; its space goes when the descriptor is closed
    closer.register(this, this.fd);
  }

  /**
   * Copy a tensor of `n` elements into the file, `fill(dst, offset)` giving elements [offset, offset + dst.length)
   * (read from the disk tier in pieces), and return its lazy tensor.
   */
  async put(shape: number[], n: number, fill: (dst: Float32Array, offset: number) => Promise<void>): Promise<HostTensor> {
    const at = this.bytes;
    this.bytes += 4 * n;
    if (this.piece.length < Math.min(STREAM_PIECE, n)) this.piece = new Float32Array(Math.min(STREAM_PIECE, n));
    for (let off = 0; off < n; off += STREAM_PIECE) {
      const dst = this.piece.subarray(0, Math.min(STREAM_PIECE, n - off));
      await fill(dst, off);
      const bytes = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await writeAsync(this.fd, bytes, done, bytes.length - done, at + off * 4 + done);
        done += bytesWritten;
      }
    }
    return new FileTensor(shape, this, at, n);
  }

  /** Elements [at / 4, at / 4 + n) of the file, in a new array. */
  read(at: number, n: number): Float32Array {
    const out = new Float32Array(n);
    const bytes = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes.length; ) {
      const got = readSync(this.fd, bytes, done, bytes.length - done, at + done);
      if (got === 0) throw new Error(`result weights: the file ended at byte ${at + done} (expected ${at + bytes.length})`);
      done += got;
    }
    return out;
  }
}
