/**
 * The optimizer step of state that lives on disk, ZeRO-Infinity's way: the parameter, its gradient and its moments
 * pass through a bounded host buffer one chunk at a time, are stepped by the same kernel as in RAM (elementwise, so a
 * chunk boundary changes nothing: bitwise equal to the all-in-RAM step), and are written back. Two buffer sets
 * alternate: while chunk i is stepped and written, chunk i + 1 is being read.
 */
import type { Backend } from '../../backend/backend.js';
import { applyUpdateHost, type OptimizerConfig, type UpdateArgs } from '../../optim/optimizer.js';
import { ALIGN, alignPad, type ScratchFile } from './scratch-file.js';

/**
 * An array of a parameter's state: in RAM, or at an offset of a scratch file. One in RAM with `through` has a copy
 * there too (values staged in a slot): each chunk is written through as soon as it is stepped, beside the next
 * chunk's reads, not after the whole step.
 */
export type StateArray = { host: Float32Array; through?: { file: ScratchFile; offset: number } } | { file: ScratchFile; offset: number };

export interface StepArrays {
  param: StateArray;
  grad: StateArray;
  /** In stateNames(optimizer) order. */
  states: StateArray[];
}

/** Bytes read and written by a streamed step. */
export interface IoCount {
  read: number;
  written: number;
}

/**
 * A job-wide chunk buffer: 2 sets of (2 + states) arrays of `chunk` elements. One step streams at a time (the
 * buffer is shared by every model); others wait their turn. Every array starts at an ALIGN-aligned address and holds
 * whole blocks (chunks start at aligned file offsets too), so a chunk's reads and writes go straight to the disk
 * with no bounce copy: the arrays start at the buffer's first aligned byte and are a whole number of blocks, one
 * block shorter than asked when the buffer itself is not aligned (the same bytes hold them). A buffer too small
 * for that is used as given.
 */
export class ChunkBuffer {
  private readonly sets: Float32Array[][];
  private queue: Promise<unknown> = Promise.resolve();
  /** Elements per array. */
  readonly chunk: number;

  constructor(
    buffer: ArrayBufferLike,
    chunk: number,
    readonly arrays: number,
  ) {
    if (buffer.byteLength < 2 * chunk * arrays * 4) throw new RangeError(`chunk buffer: ${buffer.byteLength} bytes, needs ${2 * chunk * arrays * 4}`);
    const block = ALIGN / 4, pad = alignPad(buffer);
    const aligned = Math.floor(chunk / block) * block - (pad > 0 ? block : 0);
    const [start, c] = aligned >= block ? [pad, aligned] : [0, chunk];
    this.chunk = c;
    const per = c * arrays;
    this.sets = [0, 1].map((s) => Array.from({ length: arrays }, (_, a) => new Float32Array(buffer, start + (s * per + a * c) * 4, c)));
  }

  /** Run `fn` with exclusive use of the buffer. */
  exclusive<T>(fn: (sets: Float32Array[][]) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => fn(this.sets));
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export async function streamStep(be: Backend, cfg: OptimizerConfig, a: StepArrays, n: number, args: UpdateArgs, buf: ChunkBuffer, io: IoCount): Promise<void> {
  const all = [a.param, a.grad, ...a.states];
  if (all.length > buf.arrays) throw new RangeError(`streamed step: ${all.length} arrays, the chunk buffer holds ${buf.arrays}`);
  // The gradient is read, never written back.
  const writable = all.map((_, i) => i !== 1);
  await buf.exclusive(async (sets) => {
    const C = buf.chunk;
    const count = Math.ceil(n / C);
    const viewsOf = (i: number) => {
      const lo = i * C, len = Math.min(C, n - lo);
      return all.map((s, k) => ('host' in s ? s.host.subarray(lo, lo + len) : sets[i % 2][k].subarray(0, len)));
    };
    const read = async (i: number) => {
      const v = viewsOf(i);
      await Promise.all(all.map((s, k) => ('file' in s ? s.file.read(v[k], s.offset + i * C * 4).then(() => void (io.read += v[k].byteLength)) : undefined)));
      return v;
    };
    const write = (i: number, v: Float32Array[]) =>
      Promise.all(all.map((s, k) => {
        const to = 'file' in s ? s : s.through;
        return to && writable[k] ? to.file.write(v[k], to.offset + i * C * 4).then(() => void (io.written += v[k].byteLength)) : undefined;
      }));
    // A failed read or write is awaited below; marked handled here so that the other one failing meanwhile is not an
    // unhandled rejection.
    const handled = <T>(p: Promise<T>) => (p.catch(() => undefined), p);
    let reading = handled(read(0));
    let writing: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < count; i++) {
      const v = await reading;
      // Chunk i + 1 goes into the set chunk i - 1 used: its write must have landed.
      await writing;
      if (i + 1 < count) reading = handled(read(i + 1));
      if (!applyUpdateHost(be, cfg, v[0], v[1], v.slice(2), v[0].length, args)) throw new Error(`streamed step: backend ${be.name} cannot step host arrays`);
      writing = handled(write(i, v));
    }
    await Promise.all([writing, reading]);
  });
}
