/**
 * A tensor in host memory: row-major float32 data and its shape. The definition lives in nn/ (the host tier's
 * type); io/ re-exports it so readers and writers speak the same type without a second declaration.
 */
export type { HostTensor } from '../nn/host-tensor.js';
import type { HostTensor } from '../nn/host-tensor.js';

/** Number of elements of a shape (1 for a scalar, shape []). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A HostTensor whose data length matches its shape; throws naming the tensor otherwise. */
export function checkHostTensor(name: string, t: HostTensor): HostTensor {
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  if (!(t.data instanceof Float32Array)) throw new TypeError(`tensor '${name}': data must be a Float32Array`);
  const n = shapeSize(t.shape);
  if (t.data.length !== n) throw new RangeError(`tensor '${name}': shape [${t.shape.join(', ')}] has ${n} elements, data has ${t.data.length}`);
  return t;
}

/** The first tensor (in the map's order) holding a NaN or ±Infinity, with the element's index and value. */
export function firstNonFinite(tensors: ReadonlyMap<string, HostTensor>): { name: string; index: number; value: number } | null {
  for (const [name, t] of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { name, index: i, value: d[i] };
  }
  return null;
}
