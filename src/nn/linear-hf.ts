/**
 * Bias-free linear maps in torch.nn.Linear's layout (the weight is (out, in), y = x Wᵀ), as Llama checkpoints store
 * them. (GPT-2's Conv1D layout, (in, out) with a bias, is ops.ts's linearForward.)
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';

/** y(N,OC) = x(N,C) @ W(OC,C)ᵀ, a new buffer. */
export function projForward(be: Backend, x: DeviceBuffer, w: DeviceBuffer, N: number, C: number, OC: number): DeviceBuffer {
  const y = be.alloc(N * OC);
  be.gemm(false, true, N, OC, C, 1, x, C, w, C, 0, y, OC);
  return y;
}

/**
 * Given dy(N,OC): dW(OC,C) += dyᵀ @ x; dx(N,C) = dy @ W — written into a new buffer, or added into `dxInto` when
 * given (several projections of one input: q, k and v; gate and up). Returns dx.
 */
export function projBackward(
  be: Backend, x: DeviceBuffer, w: DeviceBuffer, dy: DeviceBuffer, dw: DeviceBuffer, N: number, C: number, OC: number,
  dxInto: DeviceBuffer | null = null,
): DeviceBuffer {
  be.gemm(true, false, OC, C, N, 1, dy, OC, x, C, 1, dw, C);
  const dx = dxInto ?? be.alloc(N * C);
  be.gemm(false, false, N, C, OC, 1, dy, OC, w, C, dxInto ? 1 : 0, dx, C);
  return dx;
}
