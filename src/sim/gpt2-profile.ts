/**
 * A cost profile of GPT-2-family fine-tuning for the simulator: per-layer FLOPs, parameter bytes and activation
 * bytes, cut into shards greedily the way the partitioner does (each shard's peak must fit the device's usable
 * memory). It is an analytic model, not a measurement; it exists so presets have realistic relative sizes.
 *
 * Assumptions (fp32 training, as the reference Hydra):
 *   - block parameters 12·d² + 13·d; forward FLOPs per token 24·d² + 4·T·d (matmuls + attention); backward = 2× forward;
 *   - activations a block keeps for its backward (inside a shard, during the recompute): T·B·d·(34 + 5·h·T/d) bytes
 *     in fp16 (Korthikanti et al., 2022), doubled for fp32; plus parameters and gradients (8 bytes/parameter);
 *   - the embedding costs no compute worth pricing; the tied head needs the token embedding on the device, costs
 *     2·V·d FLOPs per token forward, and its logits (B·T·V·4 bytes) are the last shard's extra activation;
 *   - usable device memory: 80% of the budget (the rest: framework context and the prefetch buffer for the next shard);
 *   - sustained throughput: `tflops` (default 10 TFLOP/s, a 16 GB V100-class GPU in fp32).
 */
import type { SimShard } from './types.js';

export interface Gpt2Shape {
  n_layer: number;
  n_embd: number;
  n_head: number;
  vocab: number;
  n_ctx: number;
}

export const GPT2_SHAPES: Record<string, Gpt2Shape> = {
  'gpt2': { n_layer: 12, n_embd: 768, n_head: 12, vocab: 50257, n_ctx: 1024 },
  'gpt2-medium': { n_layer: 24, n_embd: 1024, n_head: 16, vocab: 50257, n_ctx: 1024 },
  'gpt2-large': { n_layer: 36, n_embd: 1280, n_head: 20, vocab: 50257, n_ctx: 1024 },
  'gpt2-xl': { n_layer: 48, n_embd: 1600, n_head: 25, vocab: 50257, n_ctx: 1024 },
  'gpt-6b': { n_layer: 28, n_embd: 4096, n_head: 16, vocab: 50400, n_ctx: 2048 },
};

export interface ProfileOptions {
  /** Batch size and sequence length. */
  B: number;
  T: number;
  deviceMemory: number;
  /** Sustained TFLOP/s of a speed-1 device. */
  tflops?: number;
  /** Fraction of device memory a shard's peak may use (default 0.8). */
  usable?: number;
}

interface LayerCost {
  name: string;
  forwardFlops: number;
  paramBytes: number;
  /** Bytes held on the device for the layer while its shard trains (params + grads + saved activations). */
  trainBytes: number;
}

function layers(s: Gpt2Shape, B: number, T: number): LayerCost[] {
  const d = s.n_embd;
  const wteBytes = 4 * s.vocab * d;
  const out: LayerCost[] = [{ name: 'embedding', forwardFlops: 0, paramBytes: wteBytes + 4 * s.n_ctx * d, trainBytes: 2 * (wteBytes + 4 * s.n_ctx * d) + 4 * B * T * d }];
  const blockParams = 12 * d * d + 13 * d;
  const blockActs = 2 * T * B * d * (34 + (5 * s.n_head * T) / d);
  for (let i = 0; i < s.n_layer; i++) {
    out.push({ name: `block${i}`, forwardFlops: B * T * (24 * d * d + 4 * T * d), paramBytes: 4 * blockParams, trainBytes: 8 * blockParams + blockActs });
  }
  // Tied head: the shard holding it loads the token embedding again (its gradient is added to the embedding's).
  out.push({ name: 'head', forwardFlops: 2 * B * T * s.vocab * d, paramBytes: wteBytes, trainBytes: 2 * wteBytes + 4 * B * T * s.vocab });
  return out;
}

/** Cut a GPT-2 shape into shards that fit `deviceMemory`, with per-phase seconds on a speed-1 device. */
export function gpt2Shards(shape: Gpt2Shape, o: ProfileOptions): SimShard[] {
  const flops = (o.tflops ?? 10) * 1e12;
  const usable = o.deviceMemory * (o.usable ?? 0.8);
  const all = layers(shape, o.B, o.T);
  const groups: LayerCost[][] = [];
  let cur: LayerCost[] = [];
  let bytes = 0;
  for (const l of all) {
    if (l.trainBytes > usable) {
      throw new RangeError(`gpt2 profile: layer ${l.name} needs ${(l.trainBytes / 2 ** 30).toFixed(2)} GiB to train at batch ${o.B}×${o.T}, more than the usable ${(usable / 2 ** 30).toFixed(2)} GiB of the device`);
    }
    if (cur.length > 0 && bytes + l.trainBytes > usable) {
      groups.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += l.trainBytes;
  }
  groups.push(cur);
  return groups.map((g) => {
    const fwd = g.reduce((a, l) => a + l.forwardFlops, 0) / flops;
    return {
      F: fwd,
      FL: 3 * fwd,
      B: 3 * fwd,
      E: fwd,
      paramBytes: g.reduce((a, l) => a + l.paramBytes, 0),
      peakBytes: g.reduce((a, l) => a + l.trainBytes, 0),
    };
  });
}
