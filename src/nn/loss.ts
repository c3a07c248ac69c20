/**
 * Mean softmax cross-entropy over the valid targets (target < 0 is ignored), fused: the forward keeps only the row
 * log-sum-exps, and the backward turns the logits buffer into dlogits in place — the softmax is never a separate
 * (N,V) tensor.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';

export interface LossResult {
  /** Mean loss (float64 sum of the per-row float32 losses, in row order, divided by the valid count). */
  loss: number;
  /** Number of rows that counted. */
  count: number;
}

/** Forward only (evaluation). */
export async function crossEntropyLoss(be: Backend, logits: DeviceBuffer, targets: DeviceBuffer, hostTargets: Int32Array, V: number): Promise<LossResult> {
  const N = hostTargets.length;
  const losses = be.alloc(N), lse = be.alloc(N);
  be.crossEntropyForward(losses, lse, logits, targets, N, V);
  const host = await be.download(losses);
  be.free(losses);
  be.free(lse);
  return summarise(host, hostTargets);
}

/** Forward + backward: returns the loss and overwrites `logits` with dloss/dlogits. */
export async function crossEntropyLossAndGrad(be: Backend, logits: DeviceBuffer, targets: DeviceBuffer, hostTargets: Int32Array, V: number): Promise<LossResult> {
  const N = hostTargets.length;
  const losses = be.alloc(N), lse = be.alloc(N);
  be.crossEntropyForward(losses, lse, logits, targets, N, V);
  const count = countValid(hostTargets);
  be.crossEntropyBackward(logits, logits, lse, targets, N, V, count > 0 ? 1 / count : 0);
  const host = await be.download(losses);
  be.free(losses);
  be.free(lse);
  return summarise(host, hostTargets);
}

function countValid(targets: Int32Array): number {
  let c = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] >= 0) c++;
  return c;
}

function summarise(losses: ArrayLike<number>, targets: Int32Array): LossResult {
  let sum = 0;
  for (let i = 0; i < losses.length; i++) if (targets[i] >= 0) sum += losses[i];
  const count = countValid(targets);
  return { loss: count > 0 ? sum / count : NaN, count };
}
