/**
 * Language-model head fused with the loss, row-chunked (as Liger-Kernel's FusedLinearCrossEntropy): for each chunk
 * of rows, logits(rows,V) = x(rows,C) @ W^T are computed into one scratch buffer, turned into per-row softmax
 * cross-entropies, and — when training — overwritten in place with dloss/dlogits and consumed at once by the two
 * gradient GEMMs (dW += dlogits^T @ x, dx = dlogits @ W). The B·T·V logits never exist: the head's working set is
 * chunk·V floats, which is what used to be every small model's memory floor (GPT-mini at batch 8×256: 412 MB of
 * logits against 51 MB of head weights), so small budgets now cut models into more shards.
 *
 * The head is the last layer of a model and its output is the per-row losses (B·T floats, 0 where the target is
 * ignored); it reads the targets and the gradient scale of the mean from `ctx.loss`. Because the mean's gradient
 * w.r.t. each row is that fixed scale, a training forward (keepForBackward) computes the gradients in the same pass
 * (no second GEMM over the logits in backward) and `backward` hands back the saved input gradient.
 *
 * With weight tying W is the token embedding (`wte.weight` in GPT-2, `embed_tokens.weight` in Llama) — one
 * parameter, two uses, one gradient (both uses accumulate into it; the head's contribution comes first, as it did
 * when it ran in backward, since nothing else touches that gradient between the head's forward and backward).
 *
 * Built from the backend's existing GEMM (with row offsets) and cross-entropy kernels, so every backend (js, cpu,
 * webgpu) runs it and every buffer it uses is an ordinary `be.alloc` — the partitioner's accounting backend counts
 * the chunk scratch exactly as the real backends allocate it.
 */
import type { DeviceBuffer } from '../backend/backend.js';
import { releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';
import type { Model } from './model.js';

/**
 * Default bound on the logits scratch of one chunk: 28 MiB (137 rows per chunk at GPT-mini's shape, N = 8·256 rows
 * of GPT-2's 50257-token vocabulary). The rows of a chunk are the inner dimension of its dW(V, C) += dlogitsᵀ · x
 * GEMM, which reads and writes all of dW, and each chunk's other two GEMMs read all of W: ≈ 4·V·C·4 bytes of memory
 * traffic per chunk whatever its rows, so a chunk must be many rows for that traffic to be small next to its
 * 6·rows·V·C FLOPs. Measured side by side (`npm run bench:head`, cpu, one thread, CPU time): 41-row chunks (the old
 * 8 MiB bound) cost 1.19× the materialised head, 128–166 rows 0.76–0.81× (a chunk smaller than the whole logits
 * stays in cache between its three passes), 256 rows 0.73×. The bound is what keeps the head's shard (weight,
 * gradient, one chunk) under a third of the 412 MB of logits it replaces at GPT-mini's shape; it is far below
 * WebGPU's smallest per-binding limit (128 MiB) and independent of the backend, so the partitioner's accounting
 * backend sees the same chunks as the real one. With a larger vocabulary a chunk has fewer rows (57 at Llama 3's
 * 128256 tokens).
 */
export const HEAD_CHUNK_BYTES = 28 * 1024 * 1024;

/**
 * Rows per chunk: the fewest chunks whose logits fit `chunkBytes` of float32 (at least one row per chunk), with the
 * rows spread evenly over them, so no chunk is a short remainder with a small-K GEMM.
 */
export function headChunkRows(N: number, V: number, chunkBytes = HEAD_CHUNK_BYTES): number {
  const most = Math.max(1, Math.min(N, Math.floor(chunkBytes / (V * 4))));
  return Math.ceil(N / Math.ceil(N / most));
}

export class LmHead implements Layer {
  readonly name = 'lm_head';
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses: string[];
  private readonly weight: string;

  /**
   * `chunkBytes` bounds the logits scratch (default HEAD_CHUNK_BYTES). Results do not depend on it beyond float
   * rounding (the dW sum over rows is split at chunk boundaries) and are bitwise reproducible for a fixed value.
   */
  constructor(
    readonly index: number,
    readonly vocab: number,
    readonly C: number,
    readonly tied: boolean,
    readonly embedding = 'wte.weight',
    readonly chunkBytes = HEAD_CHUNK_BYTES,
  ) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
      throw new RangeError(`lm_head chunkBytes must be a positive integer number of bytes, got ${String(chunkBytes)}`);
    }
    this.weight = tied ? embedding : 'lm_head.weight';
    this.ownParams = tied ? [] : [{ name: 'lm_head.weight', shape: [vocab, C], init: { kind: 'normal', std: 0.02 }, decay: true }];
    this.uses = [this.weight];
  }

  /** The per-row losses. */
  outputLength(B: number, T: number): number {
    return B * T;
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const loss = ctx.loss;
    if (!loss) throw new Error(`${this.name}: the head computes the loss and needs ctx.loss (targets and gradient scale); logits() gives raw logits`);
    const { be } = ctx;
    const N = ctx.B * ctx.T, V = this.vocab, C = this.C;
    const train = ctx.keepForBackward;
    const W = ctx.params.value(this.weight);
    const dW = train ? ctx.params.grad(this.weight) : null;
    const losses = be.alloc(N);
    const dx = train ? be.alloc(N * C) : null;
    const rows = headChunkRows(N, V, this.chunkBytes);
    // The CE kernels address rows from element 0, so each chunk's targets and losses pass through row-sized buffers.
    const logits = be.alloc(rows * V), lse = be.alloc(rows), part = be.alloc(rows), tgt = be.alloc(rows, 'i32');
    for (let r0 = 0; r0 < N; r0 += rows) {
      const n = Math.min(rows, N - r0);
      be.gemm(false, true, n, V, C, 1, x, C, W, C, 0, logits, V, r0 * C, 0, 0);
      be.copy(tgt, loss.targets, n, 0, r0);
      be.crossEntropyForward(part, lse, logits, tgt, n, V);
      be.copy(losses, part, n, r0, 0);
      if (dW && dx) {
        be.crossEntropyBackward(logits, logits, lse, tgt, n, V, loss.scale);
        be.gemm(true, false, V, C, n, 1, logits, V, x, C, 1, dW, C, 0, r0 * C, 0);
        be.gemm(false, false, n, C, V, 1, logits, V, W, C, 0, dx, C, 0, 0, r0 * C);
      }
    }
    for (const b of [logits, lse, part, tgt]) be.free(b);
    if (dx) ctx.saved.set(this, { dx });
    return losses;
  }

  /** `dy` is the losses buffer forward returned: the gradient was taken there (see the file comment). */
  backward(ctx: RunContext, _x: DeviceBuffer, _dy: DeviceBuffer): DeviceBuffer {
    return releaseSaved(ctx, this).dx as DeviceBuffer;
  }

  /** The whole (N,V) logits, unfused: for tests against reference logits and for generation, never for training. */
  logits(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const N = ctx.B * ctx.T;
    const out = ctx.be.alloc(N * this.vocab);
    ctx.be.gemm(false, true, N, this.vocab, this.C, 1, x, this.C, ctx.params.value(this.weight), this.C, 0, out, this.vocab);
    return out;
  }
}

/** A model's head: its last layer, which must be the fused LM head. */
export function lmHeadOf(model: Model): LmHead {
  const head = model.layers[model.layers.length - 1];
  if (!(head instanceof LmHead)) {
    throw new Error(`the model's last layer '${head?.name}' is not an LmHead: a model must end in the fused LM head + loss (src/nn/lm-head.ts)`);
  }
  return head;
}

/**
 * The same model with its head's logits scratch bounded by `chunkBytes` instead of the default (the arch line says
 * so: the bound changes the bytes a plan is made of).
 */
export function withHeadChunk(model: Model, chunkBytes: number): Model {
  const head = lmHeadOf(model);
  const chunked = new LmHead(head.index, head.vocab, head.C, head.tied, head.embedding, chunkBytes);
  return { ...model, arch: `${model.arch}+lm_head(chunk_bytes=${chunkBytes})`, layers: [...model.layers.slice(0, -1), chunked] };
}
