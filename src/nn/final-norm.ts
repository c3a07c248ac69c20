/** Final layer norm (`ln_f`): (B,T,C) → (B,T,C). */
import type { DeviceBuffer } from '../backend/backend.js';
import { freeAll, releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';

export class FinalNorm implements Layer {
  readonly name = 'ln_f';
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses = ['ln_f.weight', 'ln_f.bias'];

  constructor(
    readonly index: number,
    private readonly C: number,
  ) {
    this.ownParams = [
      { name: 'ln_f.weight', shape: [C], init: { kind: 'ones' }, decay: false },
      { name: 'ln_f.bias', shape: [C], init: { kind: 'zeros' }, decay: false },
    ];
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    const out = be.alloc(N * this.C), mean = be.alloc(N), rstd = be.alloc(N);
    be.layernormForward(out, mean, rstd, x, ctx.params.value('ln_f.weight'), ctx.params.value('ln_f.bias'), N, this.C);
    if (ctx.keepForBackward) ctx.saved.set(this, { mean, rstd });
    else freeAll(be, { mean, rstd });
    return out;
  }

  backward(ctx: RunContext, x: DeviceBuffer, dy: DeviceBuffer): DeviceBuffer {
    const s = releaseSaved(ctx, this) as Record<string, DeviceBuffer>;
    const { be } = ctx;
    const N = ctx.B * ctx.T;
    const dx = be.alloc(N * this.C);
    be.fill(dx, 0);
    be.layernormBackward(dx, ctx.params.grad('ln_f.weight'), ctx.params.grad('ln_f.bias'), dy, x, ctx.params.value('ln_f.weight'), s.mean, s.rstd, N, this.C);
    freeAll(be, s);
    return dx;
  }
}
