/**
 * The Layer: the unit of partitioning. A model is a chain of layers; the partitioner cuts only between them.
 *
 * A layer holds no tensors of its own. Parameter values and gradients are device buffers handed in through the
 * RunContext by whoever placed them on the device (a single-device trainer, or a Hydra shard executor that promoted
 * them from the host tier). This is what lets a shard run anywhere and lets two layers share one parameter (GPT-2's
 * tied embedding): both look up the same name and accumulate into the same gradient buffer.
 *
 * Buffer ownership:
 * - forward(x) returns a NEW buffer owned by the caller; it never frees x.
 * - backward(x, dy) gets the same x back (the caller keeps layer inputs alive until their backward has run), returns
 *   a NEW input-gradient buffer (or null for the first layer, whose input is tokens) and frees everything it saved.
 *   The caller owns and frees dy.
 */
import type { Backend, DeviceBuffer, RngKey } from '../backend/backend.js';

export type InitRule =
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

export interface ParamSpec {
  /** Stable name (Hugging Face GPT-2 names without the `transformer.` prefix). */
  name: string;
  shape: number[];
  init: InitRule;
  /** Whether weight decay applies (matrices yes; biases and norm gains no). */
  decay: boolean;
}

/** Device-side parameters and gradients for the layers being run. */
export interface DeviceParams {
  value(name: string): DeviceBuffer;
  grad(name: string): DeviceBuffer;
}

export interface RunContext {
  be: Backend;
  params: DeviceParams;
  /** Batch shape. */
  B: number;
  T: number;
  /** Dropout on (training) or off (evaluation). */
  training: boolean;
  /** Keep what backward needs. Off for forward-only tasks (F shards, evaluation), which free as they go. */
  keepForBackward: boolean;
  /** Seed and global step: with the layer index they key every dropout mask (counter-based, recompute-safe). */
  seed: number;
  step: number;
  /** Per-layer saved tensors between forward and backward. */
  saved: Map<Layer, SavedTensors>;
  /** What the loss head (the last layer, src/nn/lm-head.ts) reads; absent where no loss is computed. */
  loss?: LossTargets;
}

/** The targets of the mean cross-entropy and the gradient of that mean w.r.t. each counted row. */
export interface LossTargets {
  /** i32 (B,T); a target < 0 is ignored. */
  targets: DeviceBuffer;
  /** 1 / (number of counted targets), 0 when none count. */
  scale: number;
}

export type SavedTensors = Record<string, DeviceBuffer | number>;

export interface Layer {
  /** Human name for plans and errors, e.g. 'embed', 'h.3', 'ln_f', 'lm_head'. */
  readonly name: string;
  /**
   * Layers of one model with equal shapeKeys allocate the same buffers and run the same kernels on the same sizes
   * (they differ only in parameter names and position): the pilot pass measures one of them and the partitioner
   * dry-runs a run of them once. Absent: the layer is measured on its own.
   */
  readonly shapeKey?: string;
  /** Position in the model's chain (keys dropout masks). Set by the model builder. */
  readonly index: number;
  /** Parameters this layer owns (declares). */
  readonly ownParams: ParamSpec[];
  /** Every parameter name forward/backward read, owned or shared. */
  readonly uses: string[];
  /** Input is i32 tokens (B,T) for the first layer, f32 activations otherwise. */
  readonly inputDType: 'i32' | 'f32';
  /** Elements of the output for a batch of (B,T). */
  outputLength(B: number, T: number): number;
  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer;
  backward(ctx: RunContext, x: DeviceBuffer, dy: DeviceBuffer): DeviceBuffer | null;
}

/** Dropout purposes (the `purpose` word of the RNG key). */
export const DROPOUT_EMBED = 1;
export const DROPOUT_ATTN_RESID = 2;
export const DROPOUT_MLP_RESID = 3;

export function dropoutKey(ctx: RunContext, layer: Layer, purpose: number): RngKey {
  return { seed: ctx.seed >>> 0, purpose, step: ctx.step >>> 0, layer: layer.index };
}

/** Free every buffer a layer saved and forget it. */
export function releaseSaved(ctx: RunContext, layer: Layer): SavedTensors {
  const s = ctx.saved.get(layer);
  if (!s) throw new Error(`${layer.name}: backward called without a saved forward (run forward with keepForBackward)`);
  ctx.saved.delete(layer);
  return s;
}

export function freeAll(be: Backend, s: SavedTensors): void {
  for (const v of Object.values(s)) if (typeof v !== 'number') be.free(v);
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
