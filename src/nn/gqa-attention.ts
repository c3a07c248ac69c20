/**
 * Causal grouped-query self-attention with rotary position embeddings (Llama), the core between the projections:
 * q(B,T,NH·hs), k and v (B,T,NKV·hs) → y(B,T,NH·hs). NH query heads share NKV key/value heads, rep = NH/NKV query
 * heads per group, Hugging Face's order (query head h reads kv head ⌊h / rep⌋).
 *
 * Layout trick: in (B,NH,T,hs) the rep query heads of one group are contiguous, so a group's queries are one
 * (rep·T, hs) matrix against its (T, hs) keys — every product below is one strided batched gemm over B·NKV groups,
 * with no copy of k or v per query head, and the backward's sum over a group's query heads (dk, dv) happens inside
 * the gemm's K dimension, in a fixed order.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';

export interface GqaShape {
  B: number;
  T: number;
  NH: number;
  NKV: number;
  hs: number;
  ropeTheta: number;
}

export interface GqaSaved {
  qh: DeviceBuffer;
  kh: DeviceBuffer;
  vh: DeviceBuffer;
  att: DeviceBuffer;
  cs: DeviceBuffer;
}

/** Returns y (new) and what backward needs; q, k, v stay the caller's. */
export function gqaForward(be: Backend, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, s: GqaShape): { y: DeviceBuffer; saved: GqaSaved } {
  const { B, T, NH, NKV, hs } = s;
  const rep = NH / NKV, groups = B * NKV;
  const cs = be.alloc(T * hs);
  be.ropeTable(cs, T, hs, s.ropeTheta);
  // qh(B,NH,T,hs), kh(B,NKV,T,hs): rotated and split into heads; vh: split only.
  const qh = be.alloc(B * NH * T * hs), kh = be.alloc(B * NKV * T * hs), vh = be.alloc(B * NKV * T * hs);
  be.ropeForward(qh, q, cs, B, T, NH, hs);
  be.ropeForward(kh, k, cs, B, T, NKV, hs);
  be.fill(vh, 0);
  be.mergeHeadsBackward(vh, v, B, T, NKV, hs); // (B,T,NKV·hs) → (B,NKV,T,hs)
  // att(B,NH,T,T) = per group: Q(rep·T, hs) @ K(T, hs)ᵀ; the 1/√hs scale is applied inside the softmax.
  const att = be.alloc(B * NH * T * T);
  be.gemmBatched(groups, false, true, rep * T, T, hs, 1, qh, hs, rep * T * hs, kh, hs, T * hs, 0, att, T, rep * T * T);
  be.causalSoftmaxForward(att, B * NH, T, 1 / Math.sqrt(hs));
  // yh(B,NH,T,hs) = per group: att(rep·T, T) @ V(T, hs)
  const yh = be.alloc(B * NH * T * hs);
  be.gemmBatched(groups, false, false, rep * T, hs, T, 1, att, T, rep * T * T, vh, hs, T * hs, 0, yh, hs, rep * T * hs);
  const y = be.alloc(B * T * NH * hs);
  be.mergeHeads(y, yh, B, T, NH, hs);
  be.free(yh);
  return { y, saved: { qh, kh, vh, att, cs } };
}

/** Given dy(B,T,NH·hs): returns dq, dk, dv (new, in q/k/v's layouts) and frees the saved tensors. */
export function gqaBackward(be: Backend, dy: DeviceBuffer, saved: GqaSaved, s: GqaShape): { dq: DeviceBuffer; dk: DeviceBuffer; dv: DeviceBuffer } {
  const { B, T, NH, NKV, hs } = s;
  const rep = NH / NKV, groups = B * NKV;
  const { qh, kh, vh, att, cs } = saved;
  const dyh = be.alloc(B * NH * T * hs);
  be.fill(dyh, 0);
  be.mergeHeadsBackward(dyh, dy, B, T, NH, hs);
  // datt = dyh @ Vᵀ ; dV(T,hs) = attᵀ(T, rep·T) @ dyh(rep·T, hs) — the group's query heads summed in the gemm
  const datt = be.alloc(B * NH * T * T);
  be.gemmBatched(groups, false, true, rep * T, T, hs, 1, dyh, hs, rep * T * hs, vh, hs, T * hs, 0, datt, T, rep * T * T);
  const dvh = be.alloc(B * NKV * T * hs);
  be.gemmBatched(groups, true, false, T, hs, rep * T, 1, att, T, rep * T * T, dyh, hs, rep * T * hs, 0, dvh, hs, T * hs);
  be.free(dyh);
  be.free(vh);
  be.causalSoftmaxBackward(datt, att, B * NH, T, 1 / Math.sqrt(hs));
  be.free(att);
  // dQ = datt @ K ; dK(T,hs) = dattᵀ(T, rep·T) @ Q(rep·T, hs)
  const dqh = be.alloc(B * NH * T * hs), dkh = be.alloc(B * NKV * T * hs);
  be.gemmBatched(groups, false, false, rep * T, hs, T, 1, datt, T, rep * T * T, kh, hs, T * hs, 0, dqh, hs, rep * T * hs);
  be.gemmBatched(groups, true, false, T, hs, rep * T, 1, datt, T, rep * T * T, qh, hs, rep * T * hs, 0, dkh, hs, T * hs);
  be.free(datt);
  be.free(qh);
  be.free(kh);
  const dq = be.alloc(B * T * NH * hs), dk = be.alloc(B * T * NKV * hs), dv = be.alloc(B * T * NKV * hs);
  be.fill(dq, 0);
  be.fill(dk, 0);
  be.ropeBackward(dq, dqh, cs, B, T, NH, hs);
  be.ropeBackward(dk, dkh, cs, B, T, NKV, hs);
  be.mergeHeads(dv, dvh, B, T, NKV, hs);
  for (const b of [dqh, dkh, dvh, cs]) be.free(b);
  return { dq, dk, dv };
}
