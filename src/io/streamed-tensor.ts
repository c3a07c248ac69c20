/**
 * Tensors written without being held whole in memory. A StreamedTensor is read in pieces from wherever it lives (the
 * disk tier's scratch file, a host-tier array) into one bounded buffer as a file is written: a checkpoint or the
 * final weights of a model larger than RAM pass through at most one piece at a time.
 */
import { checkHostTensor, shapeSize, type HostTensor } from './host-tensor.js';

export interface StreamedTensor {
  shape: number[];
  /** Fill `dst` with the elements [offset, offset + dst.length). */
  read(dst: Float32Array, offset: number): Promise<void>;
}

/** A tensor in memory, or one read in pieces. */
export type TensorLike = HostTensor | StreamedTensor;

/** Elements per piece of a streamed tensor (16 MiB): what a write holds of it in memory at once. */
export const STREAM_PIECE = 4 << 20;

export function tensorElements(t: TensorLike): number {
  return 'data' in t ? t.data.length : shapeSize(t.shape);
}

/** Valid shape (and, in memory, data of that length); throws naming the tensor. */
export function checkTensorLike(name: string, t: TensorLike): TensorLike {
  if ('data' in t) return checkHostTensor(name, t);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  return t;
}

/** Whether two streamed tensors hold the same shape and bits (compared piece by piece, never whole in memory). */
export async function sameStreamed(a: StreamedTensor, b: StreamedTensor): Promise<boolean> {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const n = shapeSize(a.shape), pa = new Float32Array(Math.min(STREAM_PIECE, n)), pb = new Float32Array(pa.length);
  for (let at = 0; at < n; at += STREAM_PIECE) {
    const len = Math.min(STREAM_PIECE, n - at), x = pa.subarray(0, len), y = pb.subarray(0, len);
    await Promise.all([a.read(x, at), b.read(y, at)]);
    if (!Buffer.from(x.buffer, 0, x.byteLength).equals(Buffer.from(y.buffer, 0, y.byteLength))) return false;
  }
  return true;
}

/** An array streamed in pieces (copied out of it piece by piece, never whole). */
export function streamedView(shape: number[], data: Float32Array): StreamedTensor {
  return { shape, read: async (dst, offset) => void dst.set(data.subarray(offset, offset + dst.length)) };
}

const asBytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * The bytes of `tensors` in order: tensors in memory as they are (no copy), streamed ones piece by piece through one
 * buffer of at most `piece` elements — each yielded piece must be consumed (written) before the next is asked for.
 */
export async function* tensorBytes(tensors: Iterable<TensorLike>, piece = STREAM_PIECE): AsyncGenerator<Uint8Array> {
  let buf = new Float32Array(0);
  for (const t of tensors) {
    if ('data' in t) {
      yield asBytes(t.data);
      continue;
    }
    const n = shapeSize(t.shape);
    if (buf.length < Math.min(piece, n)) buf = new Float32Array(Math.min(piece, n));
    for (let at = 0; at < n; at += piece) {
      const v = buf.subarray(0, Math.min(piece, n - at));
      await t.read(v, at);
      yield asBytes(v);
    }
  }
}
