/**
 * Residual pre-norm Transformer block (GPT-2), one partition unit:
 *   x2  = x  + dropout(c_proj(attn(ln_1(x))))
 *   out = x2 + dropout(mlp.c_proj(gelu(mlp.c_fc(ln_2(x2)))))
 * Shapes: x (B,T,C), N = B*T rows.
 */
import type { DeviceBuffer } from '../backend/backend.js';
import { attentionBackward, attentionForward, type AttentionSaved } from './attention.js';
import { DROPOUT_ATTN_RESID, DROPOUT_MLP_RESID, dropoutKey, freeAll, releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';
import { dropoutBackward, dropoutForward, linearBackward, linearForward } from './ops.js';

export class TransformerBlock implements Layer {
  readonly name: string;
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses: string[];
  readonly shapeKey: string;
  private readonly p: (s: string) => string;

  constructor(
    readonly index: number,
    private readonly blockIndex: number,
    private readonly C: number,
    private readonly NH: number,
    nLayer: number,
    private readonly dropout: number,
  ) {
    if (C % NH !== 0) throw new RangeError(`n_embd=${C} must be divisible by n_head=${NH}`);
    this.name = `h.${blockIndex}`;
    this.p = (s) => `h.${blockIndex}.${s}`;
    const w = (name: string, shape: number[], std = 0.02): ParamSpec => ({ name: this.p(name), shape, init: { kind: 'normal', std }, decay: true });
    const zeros = (name: string, n: number): ParamSpec => ({ name: this.p(name), shape: [n], init: { kind: 'zeros' }, decay: false });
    const ones = (name: string, n: number): ParamSpec => ({ name: this.p(name), shape: [n], init: { kind: 'ones' }, decay: false });
    // GPT-2 scales the init of projections into the residual stream by 1/sqrt(2 * n_layer).
    const residStd = 0.02 / Math.sqrt(2 * nLayer);
    this.ownParams = [
      ones('ln_1.weight', C), zeros('ln_1.bias', C),
      w('attn.c_attn.weight', [C, 3 * C]), zeros('attn.c_attn.bias', 3 * C),
      w('attn.c_proj.weight', [C, C], residStd), zeros('attn.c_proj.bias', C),
      ones('ln_2.weight', C), zeros('ln_2.bias', C),
      w('mlp.c_fc.weight', [C, 4 * C]), zeros('mlp.c_fc.bias', 4 * C),
      w('mlp.c_proj.weight', [4 * C, C], residStd), zeros('mlp.c_proj.bias', C),
    ];
    this.uses = this.ownParams.map((s) => s.name);
    this.shapeKey = `block(C=${C},NH=${NH},dropout=${dropout})`;
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const { be, B, T } = ctx;
    const { C, NH } = this;
    const N = B * T, n = N * C;
    const val = (s: string) => ctx.params.value(this.p(s));

    // attention branch
    const mean1 = be.alloc(N), rstd1 = be.alloc(N), ln1 = be.alloc(n);
    be.layernormForward(ln1, mean1, rstd1, x, val('ln_1.weight'), val('ln_1.bias'), N, C);
    const qkv = linearForward(be, ln1, val('attn.c_attn.weight'), val('attn.c_attn.bias'), N, C, 3 * C);
    const att = attentionForward(be, qkv, { B, T, NH, hs: C / NH });
    be.free(qkv);
    const proj = linearForward(be, att.y, val('attn.c_proj.weight'), val('attn.c_proj.bias'), N, C, C);
    const a = dropoutForward(be, proj, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_ATTN_RESID));
    be.free(proj);
    const x2 = be.alloc(n);
    be.add(x2, x, a, n);
    be.free(a);

    // MLP branch
    const mean2 = be.alloc(N), rstd2 = be.alloc(N), ln2 = be.alloc(n);
    be.layernormForward(ln2, mean2, rstd2, x2, val('ln_2.weight'), val('ln_2.bias'), N, C);
    const h = linearForward(be, ln2, val('mlp.c_fc.weight'), val('mlp.c_fc.bias'), N, C, 4 * C);
    const hg = be.alloc(4 * n);
    be.geluForward(hg, h, 4 * n);
    const m = linearForward(be, hg, val('mlp.c_proj.weight'), val('mlp.c_proj.bias'), N, 4 * C, C);
    const md = dropoutForward(be, m, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_MLP_RESID));
    be.free(m);
    const out = be.alloc(n);
    be.add(out, x2, md, n);
    be.free(md);

    if (ctx.keepForBackward) {
      ctx.saved.set(this, { mean1, rstd1, ln1, ...att.saved, y: att.y, x2, mean2, rstd2, ln2, h, hg });
    } else {
      for (const b of [mean1, rstd1, ln1, att.saved.q, att.saved.k, att.saved.v, att.saved.att, att.y, x2, mean2, rstd2, ln2, h, hg]) be.free(b);
    }
    return out;
  }

  backward(ctx: RunContext, x: DeviceBuffer, dout: DeviceBuffer): DeviceBuffer {
    const s = releaseSaved(ctx, this) as Record<string, DeviceBuffer>;
    const { be, B, T } = ctx;
    const { C, NH } = this;
    const N = B * T, n = N * C;
    const val = (k: string) => ctx.params.value(this.p(k));
    const grad = (k: string) => ctx.params.grad(this.p(k));

    // MLP branch: out = x2 + dropout(m)
    const dx2 = be.alloc(n);
    be.copy(dx2, dout, n);
    const dm = dropoutBackward(be, dout, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_MLP_RESID));
    const dhg = linearBackward(be, s.hg, val('mlp.c_proj.weight'), dm, grad('mlp.c_proj.weight'), grad('mlp.c_proj.bias'), N, 4 * C, C);
    be.free(dm);
    const dh = be.alloc(4 * n);
    be.fill(dh, 0);
    be.geluBackward(dh, s.h, dhg, 4 * n);
    be.free(dhg);
    const dln2 = linearBackward(be, s.ln2, val('mlp.c_fc.weight'), dh, grad('mlp.c_fc.weight'), grad('mlp.c_fc.bias'), N, C, 4 * C);
    be.free(dh);
    be.layernormBackward(dx2, grad('ln_2.weight'), grad('ln_2.bias'), dln2, s.x2, val('ln_2.weight'), s.mean2, s.rstd2, N, C);
    be.free(dln2);

    // attention branch: x2 = x + dropout(c_proj(y))
    const dx = be.alloc(n);
    be.copy(dx, dx2, n);
    const da = dropoutBackward(be, dx2, n, this.dropout, ctx.training, dropoutKey(ctx, this, DROPOUT_ATTN_RESID));
    be.free(dx2);
    const dy = linearBackward(be, s.y, val('attn.c_proj.weight'), da, grad('attn.c_proj.weight'), grad('attn.c_proj.bias'), N, C, C);
    be.free(da);
    const attSaved: AttentionSaved = { q: s.q, k: s.k, v: s.v, att: s.att };
    const dqkv = attentionBackward(be, dy, attSaved, { B, T, NH, hs: C / NH });
    be.free(dy);
    const dln1 = linearBackward(be, s.ln1, val('attn.c_attn.weight'), dqkv, grad('attn.c_attn.weight'), grad('attn.c_attn.bias'), N, C, 3 * C);
    be.free(dqkv);
    be.layernormBackward(dx, grad('ln_1.weight'), grad('ln_1.bias'), dln1, x, val('ln_1.weight'), s.mean1, s.rstd1, N, C);
    be.free(dln1);

    // q, k, v, att were freed by attentionBackward; free the rest.
    const { q: _q, k: _k, v: _v, att: _att, ...rest } = s;
    freeAll(be, rest);
    return dx;
  }
}
