/**
 * Forward/backward building blocks shared by layers: linear maps in Conv1D layout and dropout. Shapes in comments.
 */
import type { Backend, DeviceBuffer, RngKey } from '../backend/backend.js';

/** out(N,OC) = x(N,C) @ W(C,OC) + b(OC). W in Conv1D layout [in, out], as Hugging Face GPT-2 stores it. */
export function linearForward(be: Backend, x: DeviceBuffer, w: DeviceBuffer, b: DeviceBuffer | null, N: number, C: number, OC: number): DeviceBuffer {
  const out = be.alloc(N * OC);
  be.gemm(false, false, N, OC, C, 1, x, C, w, OC, 0, out, OC);
  if (b) be.addBias(out, b, N, OC);
  return out;
}

/**
 * Given dout(N,OC): dW(C,OC) += x^T @ dout, db += colsum(dout); returns dx(N,C) = dout @ W^T (new buffer), or
 * accumulates into `dxInto` when given.
 */
export function linearBackward(
  be: Backend, x: DeviceBuffer, w: DeviceBuffer, dout: DeviceBuffer, dw: DeviceBuffer, db: DeviceBuffer | null,
  N: number, C: number, OC: number,
): DeviceBuffer {
  be.gemm(true, false, C, OC, N, 1, x, C, dout, OC, 1, dw, OC);
  if (db) be.biasBackward(db, dout, N, OC);
  const dx = be.alloc(N * C);
  be.gemm(false, true, N, C, OC, 1, dout, OC, w, OC, 0, dx, C);
  return dx;
}

/** Dropout into a new buffer (a plain copy when p = 0 or not training, so callers need no special case). */
export function dropoutForward(be: Backend, x: DeviceBuffer, n: number, p: number, training: boolean, key: RngKey): DeviceBuffer {
  const out = be.alloc(n);
  if (training && p > 0) be.dropoutForward(out, x, n, p, key);
  else be.copy(out, x, n);
  return out;
}

/** Gradient through dropout into a new zero-initialised buffer. */
export function dropoutBackward(be: Backend, dout: DeviceBuffer, n: number, p: number, training: boolean, key: RngKey): DeviceBuffer {
  const dx = be.alloc(n);
  if (training && p > 0) {
    be.fill(dx, 0);
    be.dropoutBackward(dx, dout, n, p, key);
  } else {
    be.copy(dx, dout, n);
  }
  return dx;
}
