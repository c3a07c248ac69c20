/**
 * Language-model head: logits(B,T,V) = x(B,T,C) @ W^T with W (V,C). With weight tying W is the token embedding
 * (`wte.weight` in GPT-2, `embed_tokens.weight` in Llama) — one parameter, two uses, one gradient (both uses
 * accumulate into it).
 */
import type { DeviceBuffer } from '../backend/backend.js';
import { releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';

export class LmHead implements Layer {
  readonly name = 'lm_head';
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses: string[];
  private readonly weight: string;

  constructor(
    readonly index: number,
    private readonly vocab: number,
    private readonly C: number,
    tied: boolean,
    embedding = 'wte.weight',
  ) {
    this.weight = tied ? embedding : 'lm_head.weight';
    this.ownParams = tied ? [] : [{ name: 'lm_head.weight', shape: [vocab, C], init: { kind: 'normal', std: 0.02 }, decay: true }];
    this.uses = [this.weight];
  }

  outputLength(B: number, T: number): number {
    return B * T * this.vocab;
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    const logits = be.alloc(N * this.vocab);
    be.gemm(false, true, N, this.vocab, this.C, 1, x, this.C, ctx.params.value(this.weight), this.C, 0, logits, this.vocab);
    if (ctx.keepForBackward) ctx.saved.set(this, {});
    return logits;
  }

  backward(ctx: RunContext, x: DeviceBuffer, dlogits: DeviceBuffer): DeviceBuffer {
    releaseSaved(ctx, this);
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    // dW(V,C) += dlogits^T @ x ; dx(N,C) = dlogits @ W
    be.gemm(true, false, this.vocab, this.C, N, 1, dlogits, this.vocab, x, this.C, 1, ctx.params.grad(this.weight), this.C);
    const dx = be.alloc(N * this.C);
    be.gemm(false, false, N, this.C, this.vocab, 1, dlogits, this.vocab, ctx.params.value(this.weight), this.C, 0, dx, this.C);
    return dx;
  }
}
