/**
 * Held-out evaluation on one device: mean cross-entropy (nats per token) and perplexity over a sequence of batches.
 * Forward only, dropout off; parameters are the only resident state.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';
import { forwardRange } from './chain.js';
import type { HostTensor } from './host-tensor.js';
import { numel, type RunContext } from './layer.js';
import { lossTargets, meanLoss } from './loss.js';
import type { Model } from './model.js';

export interface EvalBatch {
  tokens: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
}

export interface EvalResult {
  tokens: number;
  loss: number;
  perplexity: number;
  batches: number;
}

export async function evaluate(be: Backend, model: Model, weights: Map<string, HostTensor>, batches: Iterable<EvalBatch>, onBatch?: (done: number) => void): Promise<EvalResult> {
  const values = new Map<string, DeviceBuffer>();
  try {
    for (const p of model.params) {
      const w = weights.get(p.name);
      if (!w) throw new Error(`weights: missing parameter '${p.name}'`);
      if (w.data.length !== numel(p.shape)) throw new RangeError(`weights: '${p.name}' has ${w.data.length} elements, the model needs ${numel(p.shape)}`);
      const v = be.alloc(w.data.length);
      await be.upload(v, w.data);
      values.set(p.name, v);
    }
    const params = { value: (n: string) => values.get(n)!, grad: (n: string): never => { throw new Error(`evaluation asked for the gradient of ${n}`); } };
    let sum = 0, count = 0, n = 0;
    for (const b of batches) {
      for (let i = 0; i < b.tokens.length; i++) {
        const id = b.tokens[i];
        if (!(id >= 0 && id < model.vocab)) throw new RangeError(`evaluation: token id ${id} is outside the model's vocabulary (vocab_size ${model.vocab}); was the text tokenized for this model?`);
      }
      const tokens = be.alloc(b.B * b.T, 'i32'), targets = be.alloc(b.B * b.T, 'i32');
      await be.upload(tokens, b.tokens);
      await be.upload(targets, b.targets);
      const ctx: RunContext = { be, params, B: b.B, T: b.T, training: false, keepForBackward: false, seed: 0, step: 0, saved: new Map(), loss: lossTargets(targets, b.targets) };
      const fwd = forwardRange(ctx, model.layers, 0, model.layers.length, tokens);
      const r = await meanLoss(be, fwd.output, b.targets);
      be.free(fwd.output);
      be.free(tokens);
      be.free(targets);
      sum += r.loss * r.count;
      count += r.count;
      onBatch?.(++n);
    }
    if (count === 0) throw new RangeError('evaluation: no tokens to evaluate (the data is shorter than one block of n_ctx + 1 tokens)');
    const loss = sum / count;
    return { tokens: count, loss, perplexity: Math.exp(loss), batches: n };
  } finally {
    for (const v of values.values()) be.free(v);
  }
}
