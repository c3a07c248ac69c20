/** The final RMSNorm of a Llama (`norm`): (B,T,C) → (B,T,C). */
import type { DeviceBuffer } from '../backend/backend.js';
import { freeAll, releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';

export class FinalRmsNorm implements Layer {
  readonly name = 'norm';
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses = ['norm.weight'];

  constructor(
    readonly index: number,
    private readonly C: number,
    private readonly eps: number,
  ) {
    this.ownParams = [{ name: 'norm.weight', shape: [C], init: { kind: 'ones' }, decay: false }];
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    const out = be.alloc(N * this.C), rstd = be.alloc(N);
    be.rmsnormForward(out, rstd, x, ctx.params.value('norm.weight'), N, this.C, this.eps);
    if (ctx.keepForBackward) ctx.saved.set(this, { rstd });
    else be.free(rstd);
    return out;
  }

  backward(ctx: RunContext, x: DeviceBuffer, dy: DeviceBuffer): DeviceBuffer {
    const s = releaseSaved(ctx, this) as Record<string, DeviceBuffer>;
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    const dx = be.alloc(N * this.C);
    be.fill(dx, 0);
    be.rmsnormBackward(dx, ctx.params.grad('norm.weight'), dy, x, ctx.params.value('norm.weight'), s.rstd, N, this.C);
    freeAll(be, s);
    return dx;
  }
}
