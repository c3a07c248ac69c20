/**
 * Per-phase costs from the two numbers a pilot pass measures per shard (forward and backward seconds):
 * F = forward; FL = forward + loss + backward; B = recomputed forward + backward (backward alone where the forward's
 * activations were offloaded instead: its copies are not in the pilot's numbers); E = forward.
 */
import type { ShardCost } from './types.js';

export function shardCost(forward: number, backward: number, paramBytes: number, evalForward = forward, recompute = true): ShardCost {
  return { F: forward, FL: forward + backward, B: recompute ? forward + backward : backward, E: evalForward, paramBytes };
}
