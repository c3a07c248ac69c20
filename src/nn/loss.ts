/**
 * Mean softmax cross-entropy over the valid targets (target < 0 is ignored). The per-row losses come out of the
 * fused LM head (src/nn/lm-head.ts), which never materialises the logits; this file sets up what the head reads and
 * turns its output into the mean.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';
import type { LossTargets } from './layer.js';

export interface LossResult {
  /** Mean loss (float64 sum of the per-row float32 losses, in row order, divided by the valid count). */
  loss: number;
  /** Number of rows that counted. */
  count: number;
}

/** ctx.loss for a batch whose targets are on the device (`targets`) and on the host (`hostTargets`). */
export function lossTargets(targets: DeviceBuffer, hostTargets: Int32Array): LossTargets {
  const count = countValid(hostTargets);
  return { targets, scale: count > 0 ? 1 / count : 0 };
}

/** The mean of the head's per-row losses (downloads them; the buffer stays the caller's). */
export async function meanLoss(be: Backend, losses: DeviceBuffer, hostTargets: Int32Array): Promise<LossResult> {
  const host = await be.download(losses);
  let sum = 0;
  for (let i = 0; i < host.length; i++) if (hostTargets[i] >= 0) sum += host[i];
  const count = countValid(hostTargets);
  return { loss: count > 0 ? sum / count : NaN, count };
}

function countValid(targets: Int32Array): number {
  let c = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] >= 0) c++;
  return c;
}
