/**
 * The backend contract: device memory with an exact budget, explicit host↔device transfers, and the kernels GPT-2
 * and Llama training need. Every implementation (js, cpu, webgpu) passes the same conformance suite
 * (test/backend/conformance.test.ts).
 *
 * Conventions every kernel follows (so layers can be written once):
 * - Row-major storage. Shapes are written in comments as (B, T, C) etc.; N = B*T rows where a kernel is per-row.
 * - Buffers are whole allocations; a kernel reads/writes from element 0 unless it takes offsets explicitly.
 * - Kernels whose name ends in `Backward` ACCUMULATE (+=) into every gradient they write, input gradients included.
 *   Callers zero gradient buffers when a fresh gradient is wanted. This is what makes tied weights and residual
 *   branches exact: every use of a value adds its contribution in a fixed order.
 * - Kernels are enqueued in call order and observe each other's effects in that order. `js` and `cpu` run them
 *   synchronously; `webgpu` records them and runs them on submit. `download` and `sync` are the only waits.
 * - Determinism: for a fixed backend and thread count, every kernel is a pure function of its inputs (no atomics
 *   with scheduling-dependent order, no reductions whose split depends on timing).
 */

export type DType = 'f32' | 'i32';

/** A device allocation. Opaque to callers except for its size; only the backend that made it may use it. */
export interface DeviceBuffer {
  readonly id: number;
  readonly dtype: DType;
  /** Number of elements (4 bytes each for both dtypes). */
  readonly length: number;
  readonly bytes: number;
}

export interface MemoryStats {
  /** Bytes this backend may hold at once (Infinity when unbounded). */
  budget: number;
  inUse: number;
  /** Largest `inUse` seen since creation or the last `resetHighWater()`. */
  highWater: number;
  /**
   * Backends that keep freed buffers for reuse (webgpu): the most device bytes held at once since creation or the
   * last `resetHighWater()` — live buffers and pooled free ones — as the pool itself counts them.
   */
  heldHighWater?: number;
  /**
   * Backends that serve buffers from one reserved region (cpu with a budget: native/arena.h): how many fresh
   * allocations since creation were made outside it because it had no room (fragmentation under a tight budget) —
   * pages the OS must fault in and clear, the cost the region exists to avoid. A buffer placed outside that reuses
   * an earlier one of its size costs nothing new and is not counted.
   */
  outsideRegion?: number;
}

/**
 * Where an allocation takes more device memory than the bytes asked for (webgpu rounds buffers up to size classes)
 * or a kernel takes scratch buffers while it is recorded, the backend says how much, so that the partitioner's dry
 * runs count the bytes the device really holds. Absent: allocations take exactly their bytes and kernels none.
 */
export interface DeviceBytes {
  /** Device bytes an allocation of `bytes` takes. */
  of(bytes: number): number;
  /** Device bytes of each scratch buffer a kernel call takes (one after another, each freed before the next), or none. */
  scratch(kernel: string, args: readonly unknown[]): number[];
}

/** Thrown by `alloc` when an allocation would exceed the budget. Carries the numbers for the message. */
export class DeviceOutOfMemoryError extends Error {
  constructor(
    readonly requested: number,
    readonly inUse: number,
    readonly budget: number,
    readonly backend: string,
  ) {
    super(
      `${backend}: out of device memory: requested ${requested} bytes with ${inUse} in use, budget ${budget} bytes ` +
        `(raise the device budget, or lower batch size / context length so shards need less)`,
    );
    this.name = 'DeviceOutOfMemoryError';
  }
}

/** Key of a counter-based random stream; see src/backend/rng.ts. All four words are uint32. */
export interface RngKey {
  seed: number;
  /** What the randomness is for (e.g. a dropout site id). */
  purpose: number;
  /** Training step (minibatch index), so every step draws fresh masks and a recompute draws the same ones. */
  step: number;
  /** The layer index in the model, so two dropout sites never share masks. */
  layer: number;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  t: number;
  /** Multiplier applied to the gradient before use (global-norm clipping scale; 1 when not clipping). */
  gradScale: number;
}

export interface SgdParams {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  gradScale: number;
}

export interface Backend {
  /** e.g. 'js', 'cpu(threads=2, blas=openblas)', 'webgpu(llvmpipe)'. */
  readonly name: string;
  /** The kind, for plan keys and exactness claims: results are bitwise reproducible per (kind, threads). */
  readonly kind: 'js' | 'cpu' | 'webgpu';
  readonly threads: number;
  /**
   * Largest single buffer (bytes) this backend can bind to one kernel, or Infinity. The partitioner refuses layers
   * whose tensors exceed it rather than letting a kernel fail.
   */
  readonly maxBufferBytes: number;
  /** How allocations and kernels take device memory, where that differs from the bytes asked for (see DeviceBytes). */
  readonly deviceBytes?: DeviceBytes;

  // ---- memory ----
  /** Allocate `length` elements of `dtype`. Contents are undefined (callers fill/zero). Throws DeviceOutOfMemoryError. */
  alloc(length: number, dtype?: DType): DeviceBuffer;
  free(buf: DeviceBuffer): void;
  stats(): MemoryStats;
  resetHighWater(): void;
  /** Change the budget (bytes). Throws if below what is in use. */
  setBudget(bytes: number): void;

  // ---- transfers (host arrays may be views on SharedArrayBuffer) ----
  /**
   * Copy `src` (length must equal buf.length - dstOffset at most) into `buf` starting at element `dstOffset`.
   * The source may be reused as soon as the promise resolves; backends that can overlap the copy with kernels
   * (cpu: a libuv thread; webgpu: queue.writeBuffer) do so.
   */
  upload(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset?: number): Promise<void>;
  /**
   * Optional: `upload` resolving with the copy's own duration in seconds, for backends whose copies run
   * asynchronously beside kernels (prefetch reports how much copying overlapped compute). Backends without it copy
   * synchronously, so nothing overlaps.
   */
  uploadTimed?(buf: DeviceBuffer, src: Float32Array | Int32Array, dstOffset?: number): Promise<number>;
  /** Copy the device buffer (or `length` elements from `srcOffset`) to host. Writes into `dst` when given. */
  download<T extends Float32Array | Int32Array>(buf: DeviceBuffer, dst?: T, srcOffset?: number, length?: number): Promise<T>;
  /** Wait until every enqueued kernel and transfer has finished. */
  sync(): Promise<void>;
  /** Release everything (worker shutdown). */
  dispose(): void;

  // ---- elementwise / utility ----
  fill(x: DeviceBuffer, value: number, n?: number, offset?: number): void;
  /** dst[dstOffset + i] = src[srcOffset + i] for i < n. */
  copy(dst: DeviceBuffer, src: DeviceBuffer, n: number, dstOffset?: number, srcOffset?: number): void;
  /** x *= alpha */
  scale(x: DeviceBuffer, alpha: number, n?: number): void;
  /** out = a + b (out may alias a or b) */
  add(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void;
  /** y += alpha * x */
  axpy(y: DeviceBuffer, x: DeviceBuffer, alpha: number, n: number): void;
  /**
   * out[outIndex] = sum(x[i]^2 for i < n), accumulated in float64 over fixed blocks of 4096 elements (block partial
   * sums in order), then rounded to float32. Independent of thread count.
   */
  sumSquares(out: DeviceBuffer, outIndex: number, x: DeviceBuffer, n: number): void;

  // ---- matmul ----
  /**
   * C(M,N) = alpha * op(A) @ op(B) + beta * C, row-major, op(X) = X^T when the flag is set.
   * A is (M,K) or (K,M) when transA; B is (K,N) or (N,K) when transB. lda/ldb/ldc default to the packed widths.
   * Offsets (elements) let a caller address a sub-matrix. With beta = 0, C is never read (it may hold garbage or NaN),
   * as in BLAS.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, B: DeviceBuffer, ldb: number, beta: number, C: DeviceBuffer, ldc: number,
    offA?: number, offB?: number, offC?: number,
  ): void;
  /**
   * Batched strided gemm: for i < batch, the gemm above with A/B/C at offA + i*strideA etc. One kernel launch on
   * GPU backends; attention uses it over (B*NH).
   */
  gemmBatched(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: DeviceBuffer, lda: number, strideA: number, B: DeviceBuffer, ldb: number, strideB: number,
    beta: number, C: DeviceBuffer, ldc: number, strideC: number,
  ): void;
  /** out(rows, cols) += bias(cols) broadcast over rows. */
  addBias(out: DeviceBuffer, bias: DeviceBuffer, rows: number, cols: number): void;
  /** dbias(cols) += column sums of dout(rows, cols), summed in row order. */
  biasBackward(dbias: DeviceBuffer, dout: DeviceBuffer, rows: number, cols: number): void;

  // ---- GPT-2 kernels ----
  /** out(B,T,C) = wte[tokens[b,t]] + wpe[t] (wpe null: no position table, out = wte[tokens]). tokens is i32 (B,T). */
  embeddingForward(out: DeviceBuffer, tokens: DeviceBuffer, wte: DeviceBuffer, wpe: DeviceBuffer | null, B: number, T: number, C: number): void;
  /** dwte[tokens[b,t]] += dout[b,t]; dwpe[t] += dout[b,t]; in (b,t) order. dwpe may be null (no position table). */
  embeddingBackward(dwte: DeviceBuffer, dwpe: DeviceBuffer | null, dout: DeviceBuffer, tokens: DeviceBuffer, B: number, T: number, C: number): void;
  /** out = (x - mean) * rstd * w + b per row of C; writes mean(N), rstd(N) for backward. eps = 1e-5. */
  layernormForward(out: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, b: DeviceBuffer, N: number, C: number): void;
  layernormBackward(dx: DeviceBuffer, dw: DeviceBuffer, db: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, mean: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void;
  /** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  geluForward(out: DeviceBuffer, x: DeviceBuffer, n: number): void;
  geluBackward(dx: DeviceBuffer, x: DeviceBuffer, dout: DeviceBuffer, n: number): void;
  /** (B,T,3C) packed qkv → q, k, v each (B,NH,T,hs), hs = C/NH. */
  splitHeads(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, qkv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /** dqkv(B,T,3C) += the inverse scatter of dq, dk, dv. */
  splitHeadsBackward(dqkv: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /** y(B,NH,T,hs) → out(B,T,C). Overwrites out. */
  mergeHeads(out: DeviceBuffer, y: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /** dy(B,NH,T,hs) += the inverse permutation of dout(B,T,C). */
  mergeHeadsBackward(dy: DeviceBuffer, dout: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /**
   * Row-wise causal softmax in place over att(B*NH, T, T) after scaling by `scale`: for row t, entries j > t become 0
   * and entries j <= t become softmax(scale * att[t, 0..t]).
   */
  causalSoftmaxForward(att: DeviceBuffer, rows: number, T: number, scale: number): void;
  /**
   * Given probabilities p = att and their gradient datt (both (B*NH, T, T)), overwrite datt with the gradient w.r.t.
   * the scaled-and-masked pre-softmax scores times `scale`: d = scale * p * (datt - sum_j p*datt). Masked entries -> 0.
   * (Not accumulating: datt is scratch owned by attention.)
   */
  causalSoftmaxBackward(datt: DeviceBuffer, att: DeviceBuffer, rows: number, T: number, scale: number): void;
  /**
   * Dropout with a counter-based mask: keep element i iff uniform(key, i) >= fround(p) (see rng.ts); kept values are scaled by
   * fround(1 / (1 - p)). The mask is a pure function of (key, i): backward and recompute redraw it, nothing stored.
   */
  dropoutForward(out: DeviceBuffer, x: DeviceBuffer, n: number, p: number, key: RngKey): void;
  dropoutBackward(dx: DeviceBuffer, dout: DeviceBuffer, n: number, p: number, key: RngKey): void;
  /**
   * Fused softmax cross-entropy forward: for each row r < N with target t = targets[r] (i32; t < 0 means ignore),
   * losses[r] = logsumexp(logits[r]) - logits[r, t] (0 when ignored) and lse[r] = logsumexp(logits[r]).
   */
  crossEntropyForward(losses: DeviceBuffer, lse: DeviceBuffer, logits: DeviceBuffer, targets: DeviceBuffer, N: number, V: number): void;
  /**
   * dlogits[r, j] = (exp(logits[r, j] - lse[r]) - [j == t]) * gradScale, 0 for ignored rows. dlogits MAY alias
   * logits (the usual case: the softmax is never materialised separately). Overwrites, does not accumulate.
   */
  crossEntropyBackward(dlogits: DeviceBuffer, logits: DeviceBuffer, lse: DeviceBuffer, targets: DeviceBuffer, N: number, V: number, gradScale: number): void;

  // ---- Llama kernels ----
  /**
   * RMSNorm per row of C: rstd = 1 / sqrt(mean(x^2) + eps), out = x * rstd * w; writes rstd(N) for backward.
   */
  rmsnormForward(out: DeviceBuffer, rstd: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, N: number, C: number, eps: number): void;
  /** With norm = x * rstd: dw += colsum(dout * norm); dx += rstd * (w*dout - norm * mean(w*dout*norm)). */
  rmsnormBackward(dx: DeviceBuffer, dw: DeviceBuffer, dout: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, N: number, C: number): void;
  /**
   * Rotary table cs(2, T, hs/2): cs[0,t,i] = cos(a), cs[1,t,i] = sin(a), a = fround(t * inv[i]),
   * inv[i] = fround(1 / fround(theta ** fround(2i / hs))) — Hugging Face's float32 recipe, each rounding in its
   * place; cos and sin of the float32 angle correctly rounded to float32 (see rope-table.ts). hs is even.
   */
  ropeTable(cs: DeviceBuffer, T: number, hs: number, theta: number): void;
  /**
   * Rotary embedding (HF rotate_half) fused with the head split: x(B,T,NH*hs) → out(B,NH,T,hs) with, for i < hs/2,
   * out[i] = x[i]·cos − x[i+hs/2]·sin and out[i+hs/2] = x[i+hs/2]·cos + x[i]·sin (cos, sin from cs at (t, i)).
   * Overwrites out.
   */
  ropeForward(out: DeviceBuffer, x: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /** dx(B,T,NH*hs) += the transposed rotation of dout(B,NH,T,hs). */
  ropeBackward(dx: DeviceBuffer, dout: DeviceBuffer, cs: DeviceBuffer, B: number, T: number, NH: number, hs: number): void;
  /** SwiGLU: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)). Elementwise over n. */
  swigluForward(out: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, n: number): void;
  /** dgate += dout * up * silu'(gate); dup += dout * silu(gate). */
  swigluBackward(dgate: DeviceBuffer, dup: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, dout: DeviceBuffer, n: number): void;

  // ---- optimizers (elementwise over n) ----
  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, n: number, h: AdamWParams): void;
  /** momentumBuf may be null when momentum == 0. */
  sgd(param: DeviceBuffer, grad: DeviceBuffer, momentumBuf: DeviceBuffer | null, n: number, h: SgdParams): void;
  /**
   * Optional: the same steps applied in place to host arrays (the host tier), bit for bit as adamw / sgd. Backends
   * whose device memory is the host's own (cpu, js) offer them so the optimizer step needs no copies; a GPU does not.
   */
  adamwHost?(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, h: AdamWParams): void;
  sgdHost?(param: Float32Array, grad: Float32Array, momentumBuf: Float32Array | null, n: number, h: SgdParams): void;
}
