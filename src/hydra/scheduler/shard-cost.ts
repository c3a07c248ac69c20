/**
 * Per-phase costs from the two numbers a pilot pass measures per shard (forward and backward seconds):
 * F = forward; FL = forward + loss + backward; B = recomputed forward + backward; E = forward.
 */
import type { ShardCost } from './types.js';

export function shardCost(forward: number, backward: number, paramBytes: number, evalForward = forward): ShardCost {
  return { F: forward, FL: forward + backward, B: forward + backward, E: evalForward, paramBytes };
}
