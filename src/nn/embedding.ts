/** Token + position embedding, then embedding dropout. Input: tokens i32 (B,T). Output: (B,T,C). */
import type { DeviceBuffer } from '../backend/backend.js';
import { DROPOUT_EMBED, dropoutKey, releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';
import { dropoutBackward, dropoutForward } from './ops.js';

export class Embedding implements Layer {
  readonly name = 'embed';
  readonly inputDType = 'i32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses = ['wte.weight', 'wpe.weight'];

  constructor(
    readonly index: number,
    private readonly vocab: number,
    private readonly nCtx: number,
    private readonly C: number,
    private readonly dropout: number,
  ) {
    this.ownParams = [
      { name: 'wte.weight', shape: [vocab, C], init: { kind: 'normal', std: 0.02 }, decay: true },
      { name: 'wpe.weight', shape: [nCtx, C], init: { kind: 'normal', std: 0.02 }, decay: true },
    ];
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  forward(ctx: RunContext, tokens: DeviceBuffer): DeviceBuffer {
    const { be, B, T } = ctx;
    if (T > this.nCtx) throw new RangeError(`embed: sequence length T=${T} exceeds the model's n_ctx=${this.nCtx}`);
    const n = B * T * this.C;
    const emb = be.alloc(n);
    be.embeddingForward(emb, tokens, ctx.params.value('wte.weight'), ctx.params.value('wpe.weight'), B, T, this.C);
    const out = dropoutForward(be, emb, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_EMBED));
    be.free(emb);
    if (ctx.keepForBackward) ctx.saved.set(this, {});
    return out;
  }

  backward(ctx: RunContext, tokens: DeviceBuffer, dy: DeviceBuffer): null {
    releaseSaved(ctx, this);
    const { be, B, T } = ctx;
    const n = B * T * this.C;
    const demb = dropoutBackward(be, dy, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_EMBED));
    be.embeddingBackward(ctx.params.grad('wte.weight'), ctx.params.grad('wpe.weight'), demb, tokens, B, T, this.C);
    be.free(demb);
    return null;
  }
}
