/**
 * Causal multi-head self-attention core (no projections): qkv(B,T,3C) → y(B,T,C). The projections around it live in
 * the block. Saves q, k, v (B,NH,T,hs) and the probabilities att (B,NH,T,T) for backward.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';

export interface AttentionSaved {
  q: DeviceBuffer;
  k: DeviceBuffer;
  v: DeviceBuffer;
  att: DeviceBuffer;
}

export interface AttentionShape {
  B: number;
  T: number;
  NH: number;
  hs: number;
}

export function attentionForward(be: Backend, qkv: DeviceBuffer, s: AttentionShape): { y: DeviceBuffer; saved: AttentionSaved } {
  const { B, T, NH, hs } = s;
  const heads = B * NH;
  const q = be.alloc(heads * T * hs), k = be.alloc(heads * T * hs), v = be.alloc(heads * T * hs);
  be.splitHeads(q, k, v, qkv, B, T, NH, hs);
  // att(B*NH, T, T) = q @ k^T; the 1/sqrt(hs) scale is applied inside the softmax.
  const att = be.alloc(heads * T * T);
  be.gemmBatched(heads, false, true, T, T, hs, 1, q, hs, T * hs, k, hs, T * hs, 0, att, T, T * T);
  be.causalSoftmaxForward(att, heads, T, 1 / Math.sqrt(hs));
  // yh(B*NH, T, hs) = att @ v
  const yh = be.alloc(heads * T * hs);
  be.gemmBatched(heads, false, false, T, hs, T, 1, att, T, T * T, v, hs, T * hs, 0, yh, hs, T * hs);
  const y = be.alloc(B * T * NH * hs);
  be.mergeHeads(y, yh, B, T, NH, hs);
  be.free(yh);
  return { y, saved: { q, k, v, att } };
}

/** Returns dqkv(B,T,3C) (new buffer) and frees the saved tensors. */
export function attentionBackward(be: Backend, dy: DeviceBuffer, saved: AttentionSaved, s: AttentionShape): DeviceBuffer {
  const { B, T, NH, hs } = s;
  const heads = B * NH;
  const { q, k, v, att } = saved;
  const dyh = be.alloc(heads * T * hs);
  be.fill(dyh, 0);
  be.mergeHeadsBackward(dyh, dy, B, T, NH, hs);
  // datt = dyh @ v^T ; dv = att^T @ dyh
  const datt = be.alloc(heads * T * T);
  be.gemmBatched(heads, false, true, T, T, hs, 1, dyh, hs, T * hs, v, hs, T * hs, 0, datt, T, T * T);
  const dv = be.alloc(heads * T * hs);
  be.gemmBatched(heads, true, false, T, hs, T, 1, att, T, T * T, dyh, hs, T * hs, 0, dv, hs, T * hs);
  be.free(dyh);
  be.free(v);
  // gradient w.r.t. the raw scores q k^T (the softmax backward folds the scale in)
  be.causalSoftmaxBackward(datt, att, heads, T, 1 / Math.sqrt(hs));
  be.free(att);
  const dq = be.alloc(heads * T * hs), dk = be.alloc(heads * T * hs);
  be.gemmBatched(heads, false, false, T, hs, T, 1, datt, T, T * T, k, hs, T * hs, 0, dq, hs, T * hs);
  be.gemmBatched(heads, true, false, T, hs, T, 1, datt, T, T * T, q, hs, T * hs, 0, dk, hs, T * hs);
  be.free(datt);
  be.free(q);
  be.free(k);
  const dqkv = be.alloc(B * T * 3 * NH * hs);
  be.fill(dqkv, 0);
  be.splitHeadsBackward(dqkv, dq, dk, dv, B, T, NH, hs);
  be.free(dq);
  be.free(dk);
  be.free(dv);
  return dqkv;
}
