/**
 * Running a contiguous range of a model's layers: the whole model (single device) or one shard (Hydra). Both paths
 * use these two functions, so a shard executes exactly the kernels the unsharded model would.
 */
import type { DeviceBuffer } from '../backend/backend.js';
import type { Layer, RunContext } from './layer.js';

export interface RangeForward {
  output: DeviceBuffer;
  /** inputs[i] is the input of layers[from + i]; inputs[0] is the caller's. Empty unless keepForBackward. */
  inputs: DeviceBuffer[];
}

/**
 * `afterLayer(i, x)`: called once layer i's forward has run, with its input (e.g. to start copying what it kept for
 * its backward while the next layer computes).
 */
export function forwardRange(ctx: RunContext, layers: Layer[], from: number, to: number, input: DeviceBuffer, afterLayer?: (i: number, x: DeviceBuffer) => void): RangeForward {
  const inputs: DeviceBuffer[] = [];
  let x = input;
  for (let i = from; i < to; i++) {
    const y = layers[i].forward(ctx, x);
    afterLayer?.(i, x);
    if (ctx.keepForBackward) inputs.push(x);
    else if (x !== input) ctx.be.free(x);
    x = y;
  }
  return { output: x, inputs };
}


/**
 * Backward through layers [from, to) given dy of the range's output; frees the saved inputs (not the caller's range
 * input) and every intermediate gradient. Returns the gradient of the range input (null when layer `from` takes
 * tokens). The caller keeps ownership of dy.
 */
export function backwardRange(ctx: RunContext, layers: Layer[], from: number, to: number, fwd: Pick<RangeForward, 'inputs'>, dy: DeviceBuffer): DeviceBuffer | null {
  let g: DeviceBuffer | null = dy;
  for (let i = to - 1; i >= from; i--) {
    if (!g) throw new Error(`layer ${layers[i].name}: no output gradient (a token-input layer must come first)`);
    const x = fwd.inputs[i - from];
    const gx: DeviceBuffer | null = layers[i].backward(ctx, x, g);
    if (g !== dy) ctx.be.free(g);
    if (i > from) ctx.be.free(x);
    g = gx;
  }
  return g;
}
