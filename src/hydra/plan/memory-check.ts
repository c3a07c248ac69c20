/**
 * The memory check before planning: bytes that are known from shapes alone, compared with the device budget and the
 * host cap before any pilot pass runs. A wrong shape (n_embd 8192 on a 120 MiB device) is refused in milliseconds,
 * instead of after a pilot that runs every layer at full size and then says the layer cannot fit.
 *
 * The bounds are lower bounds, never estimates: a layer's training task needs at least its parameters, their
 * gradients, its input and its output (or the output's gradient) on the device at once; the host tier needs at
 * least every model's parameters, gradients, optimizer states and batch. The pilot and the
 * partitioner still find the exact peaks; this only refuses what cannot fit whatever the plan.
 *
 * `checkMemoryBudgets` takes byte counts only (no model types), so the planner can call it for any architecture;
 * `modelBytes` derives the counts from a chain of layers.
 */
import type { Model } from '../../nn/model.js';
import { HostOutOfMemoryError } from '../tier/host-tier.js';
import { formatBytes } from '../units.js';
import { LayerTooLargeError } from './partitioner.js';

export interface LayerBytes {
  name: string;
  /** Parameters the layer reads (shared ones included). */
  paramBytes: number;
  inputBytes: number;
  outputBytes: number;
}

export interface ModelBytes {
  name: string;
  layers: LayerBytes[];
  /** Every parameter once (tied weights counted once). */
  paramBytes: number;
  /** Optimizer state arrays per parameter (AdamW 2, SGD with momentum 1, plain SGD 0). */
  optimizerStates: number;
  /** Other host-tier arrays whatever the plan (the batch's tokens and targets; boundaries depend on the cuts). */
  fixedHostBytes: number;
}

/** The least a layer's training task holds on the device at once. */
export function layerFloor(l: LayerBytes): number {
  return 2 * l.paramBytes + l.inputBytes + l.outputBytes;
}

/** The least a model holds in the host tier. */
export function hostFloor(m: ModelBytes): number {
  return m.paramBytes * (2 + m.optimizerStates) + m.fixedHostBytes;
}

/**
 * Throws when a lower bound exceeds a limit: a LayerTooLargeError naming the model, layer, bytes and budget (as the
 * partitioner would after a pilot), or a HostOutOfMemoryError for the host cap (as the host tier would).
 */
export function checkMemoryBudgets(models: readonly ModelBytes[], limits: { device: number; host: number }): void {
  for (const m of models) {
    for (const l of m.layers) {
      const need = layerFloor(l);
      if (need > limits.device) {
        throw new LayerTooLargeError(
          `model '${m.name}': layer '${l.name}' needs at least ${formatBytes(need)} on a device to train (parameters ${formatBytes(l.paramBytes)}, ` +
            `their gradients ${formatBytes(l.paramBytes)}, input ${formatBytes(l.inputBytes)}, output ${formatBytes(l.outputBytes)}), more than the ` +
            `device budget of ${formatBytes(limits.device)}; no partition can fit it. Raise deviceMemory, or lower the batch (task.train.B), the sequence length (task.train.T) or the model's width.`,
        );
      }
    }
  }
  const total = models.reduce((a, m) => a + hostFloor(m), 0);
  if (total > limits.host) {
    const biggest = [...models].sort((a, b) => hostFloor(b) - hostFloor(a))[0];
    const what = `at least the ${models.length} model${models.length === 1 ? '' : 's'}' parameters, gradients, optimizer state and batches (the largest, '${biggest.name}', ${formatBytes(hostFloor(biggest))}; all ${formatBytes(total)})`;
    throw new HostOutOfMemoryError(total, 0, limits.host, what);
  }
}

const F32 = 4;
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Byte counts of a model trained with batch B×T (f32 everywhere; the first layer reads i32 tokens). */
export function modelBytes(name: string, model: Model, B: number, T: number, optimizerStates: number): ModelBytes {
  const shapes = new Map(model.params.map((p) => [p.name, p.shape]));
  let input = B * T * F32;
  const layers = model.layers.map((l) => {
    const outputBytes = l.outputLength(B, T) * F32;
    const bytes = { name: l.name, paramBytes: l.uses.reduce((a, u) => a + numel(shapes.get(u)!) * F32, 0), inputBytes: input, outputBytes };
    input = outputBytes;
    return bytes;
  });
  return {
    name,
    layers,
    paramBytes: model.params.reduce((a, p) => a + numel(p.shape) * F32, 0),
    optimizerStates,
    fixedHostBytes: 2 * B * T * F32,
  };
}
