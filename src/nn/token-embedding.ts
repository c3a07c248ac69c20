/** Token embedding without positions (Llama: positions enter through the rotary embedding). tokens i32 (B,T) → (B,T,C). */
import type { DeviceBuffer } from '../backend/backend.js';
import { releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';

export const EMBED_TOKENS = 'embed_tokens.weight';

export class TokenEmbedding implements Layer {
  readonly name = 'embed';
  readonly inputDType = 'i32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses = [EMBED_TOKENS];

  constructor(
    readonly index: number,
    vocab: number,
    private readonly nCtx: number,
    private readonly C: number,
  ) {
    this.ownParams = [{ name: EMBED_TOKENS, shape: [vocab, C], init: { kind: 'normal', std: 0.02 }, decay: true }];
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  forward(ctx: RunContext, tokens: DeviceBuffer): DeviceBuffer {
    const { be, B, T } = ctx;
    if (T > this.nCtx) throw new RangeError(`embed: sequence length T=${T} exceeds the model's n_ctx=${this.nCtx}`);
    const out = be.alloc(B * T * this.C);
    be.embeddingForward(out, tokens, ctx.params.value(EMBED_TOKENS), null, B, T, this.C);
    if (ctx.keepForBackward) ctx.saved.set(this, {});
    return out;
  }

  backward(ctx: RunContext, tokens: DeviceBuffer, dy: DeviceBuffer): null {
    releaseSaved(ctx, this);
    ctx.be.embeddingBackward(ctx.params.grad(EMBED_TOKENS), null, dy, tokens, ctx.B, ctx.T, this.C);
    return null;
  }
}
