/**
 * Llama decoder layer, one partition unit (pre-norm, no biases, no dropout):
 *   x2  = x  + o_proj(gqa(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),   n1 = rmsnorm(x)  · input_layernorm
 *   out = x2 + down_proj(silu(gate_proj(n2)) · up_proj(n2)),                   n2 = rmsnorm(x2) · post_attention_layernorm
 * Shapes: x (B,T,C), N = B·T rows; q (N, NH·hs), k and v (N, NKV·hs); the MLP's inner width I. Weights in
 * torch.nn.Linear's (out, in) layout under Hugging Face's names (without the `model.` prefix).
 */
import type { DeviceBuffer } from '../backend/backend.js';
import { gqaBackward, gqaForward, type GqaShape } from './gqa-attention.js';
import { freeAll, releaseSaved, type Layer, type ParamSpec, type RunContext } from './layer.js';
import type { LlamaConfig } from './llama-config.js';
import { projBackward, projForward } from './linear-hf.js';

export class LlamaBlock implements Layer {
  readonly name: string;
  readonly shapeKey: string;
  readonly inputDType = 'f32' as const;
  readonly ownParams: ParamSpec[];
  readonly uses: string[];
  private readonly p: (s: string) => string;
  private readonly C: number;
  private readonly NH: number;
  private readonly NKV: number;
  private readonly hs: number;
  private readonly I: number;

  constructor(
    readonly index: number,
    blockIndex: number,
    private readonly cfg: LlamaConfig,
  ) {
    this.name = `layers.${blockIndex}`;
    this.p = (s) => `layers.${blockIndex}.${s}`;
    [this.C, this.NH, this.NKV, this.hs, this.I] = [cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.intermediate_size];
    const { C, NH, NKV, hs, I } = this;
    const w = (name: string, shape: number[]): ParamSpec => ({ name: this.p(name), shape, init: { kind: 'normal', std: 0.02 }, decay: true });
    const norm = (name: string): ParamSpec => ({ name: this.p(name), shape: [C], init: { kind: 'ones' }, decay: false });
    this.ownParams = [
      norm('input_layernorm.weight'),
      w('self_attn.q_proj.weight', [NH * hs, C]), w('self_attn.k_proj.weight', [NKV * hs, C]),
      w('self_attn.v_proj.weight', [NKV * hs, C]), w('self_attn.o_proj.weight', [C, NH * hs]),
      norm('post_attention_layernorm.weight'),
      w('mlp.gate_proj.weight', [I, C]), w('mlp.up_proj.weight', [I, C]), w('mlp.down_proj.weight', [C, I]),
    ];
    this.uses = this.ownParams.map((s) => s.name);
    this.shapeKey = `llama-block(C=${C},NH=${NH},NKV=${NKV},hs=${hs},I=${I},theta=${cfg.rope_theta},eps=${cfg.rms_norm_eps})`;
  }

  outputLength(B: number, T: number): number {
    return B * T * this.C;
  }

  private shape(ctx: RunContext): GqaShape {
    return { B: ctx.B, T: ctx.T, NH: this.NH, NKV: this.NKV, hs: this.hs, ropeTheta: this.cfg.rope_theta };
  }

  forward(ctx: RunContext, x: DeviceBuffer): DeviceBuffer {
    const { be } = ctx;
    const { C, NH, NKV, hs, I } = this;
    const N = ctx.B * ctx.T, n = N * C, eps = this.cfg.rms_norm_eps;
    const val = (s: string) => ctx.params.value(this.p(s));

    // attention branch
    const rstd1 = be.alloc(N), n1 = be.alloc(n);
    be.rmsnormForward(n1, rstd1, x, val('input_layernorm.weight'), N, C, eps);
    const q = projForward(be, n1, val('self_attn.q_proj.weight'), N, C, NH * hs);
    const k = projForward(be, n1, val('self_attn.k_proj.weight'), N, C, NKV * hs);
    const v = projForward(be, n1, val('self_attn.v_proj.weight'), N, C, NKV * hs);
    const att = gqaForward(be, q, k, v, this.shape(ctx));
    for (const b of [q, k, v]) be.free(b);
    const o = projForward(be, att.y, val('self_attn.o_proj.weight'), N, NH * hs, C);
    const x2 = be.alloc(n);
    be.add(x2, x, o, n);
    be.free(o);

    // MLP branch
    const rstd2 = be.alloc(N), n2 = be.alloc(n);
    be.rmsnormForward(n2, rstd2, x2, val('post_attention_layernorm.weight'), N, C, eps);
    const g = projForward(be, n2, val('mlp.gate_proj.weight'), N, C, I);
    const u = projForward(be, n2, val('mlp.up_proj.weight'), N, C, I);
    const h = be.alloc(N * I);
    be.swigluForward(h, g, u, N * I);
    const m = projForward(be, h, val('mlp.down_proj.weight'), N, I, C);
    const out = be.alloc(n);
    be.add(out, x2, m, n);
    be.free(m);

    if (ctx.keepForBackward) {
      ctx.saved.set(this, { rstd1, n1, ...att.saved, y: att.y, x2, rstd2, n2, g, u, h });
    } else {
      freeAll(be, { rstd1, n1, ...att.saved, y: att.y, x2, rstd2, n2, g, u, h });
    }
    return out;
  }

  backward(ctx: RunContext, x: DeviceBuffer, dout: DeviceBuffer): DeviceBuffer {
    const s = releaseSaved(ctx, this) as Record<string, DeviceBuffer>;
    const { be } = ctx;
    const { C, NH, NKV, hs, I } = this;
    const N = ctx.B * ctx.T, n = N * C;
    const val = (k: string) => ctx.params.value(this.p(k));
    const grad = (k: string) => ctx.params.grad(this.p(k));

    // MLP branch: out = x2 + down(h), h = swiglu(g, u)
    const dx2 = be.alloc(n);
    be.copy(dx2, dout, n);
    const dh = projBackward(be, s.h, val('mlp.down_proj.weight'), dout, grad('mlp.down_proj.weight'), N, I, C);
    const dg = be.alloc(N * I), du = be.alloc(N * I);
    be.fill(dg, 0);
    be.fill(du, 0);
    be.swigluBackward(dg, du, s.g, s.u, dh, N * I);
    be.free(dh);
    const dn2 = projBackward(be, s.n2, val('mlp.gate_proj.weight'), dg, grad('mlp.gate_proj.weight'), N, C, I);
    projBackward(be, s.n2, val('mlp.up_proj.weight'), du, grad('mlp.up_proj.weight'), N, C, I, dn2);
    be.free(dg);
    be.free(du);
    be.rmsnormBackward(dx2, grad('post_attention_layernorm.weight'), dn2, s.x2, val('post_attention_layernorm.weight'), s.rstd2, N, C);
    be.free(dn2);

    // attention branch: x2 = x + o_proj(y)
    const dx = be.alloc(n);
    be.copy(dx, dx2, n);
    const dy = projBackward(be, s.y, val('self_attn.o_proj.weight'), dx2, grad('self_attn.o_proj.weight'), N, NH * hs, C);
    be.free(dx2);
    const { dq, dk, dv } = gqaBackward(be, dy, { qh: s.qh, kh: s.kh, vh: s.vh, att: s.att, cs: s.cs }, this.shape(ctx));
    be.free(dy);
    const dn1 = projBackward(be, s.n1, val('self_attn.q_proj.weight'), dq, grad('self_attn.q_proj.weight'), N, C, NH * hs);
    projBackward(be, s.n1, val('self_attn.k_proj.weight'), dk, grad('self_attn.k_proj.weight'), N, C, NKV * hs, dn1);
    projBackward(be, s.n1, val('self_attn.v_proj.weight'), dv, grad('self_attn.v_proj.weight'), N, C, NKV * hs, dn1);
    for (const b of [dq, dk, dv]) be.free(b);
    be.rmsnormBackward(dx, grad('input_layernorm.weight'), dn1, x, val('input_layernorm.weight'), s.rstd1, N, C);
    be.free(dn1);

    // qh, kh, vh, att, cs were freed by gqaBackward; free the rest.
    const { qh: _q, kh: _k, vh: _v, att: _a, cs: _c, ...rest } = s;
    freeAll(be, rest);
    return dx;
  }
}
