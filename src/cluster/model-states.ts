/**
 * The models' progress hash (`hydra status`, and what waits for a job to finish), written forward only. A segment can
 * run again after it was committed — its lock was lost while Redis restarted, so the queue retries it; the replay
 * finds the checkpoint and trains nothing — and by then the model may be further on or finished. Its update must not
 * set the model back to an earlier step, or take it out of a final state. One Lua script does the check and the
 * write, so concurrent workers cannot interleave between them.
 */
import type { Redis } from 'ioredis';
import { redisModelsKey, type ClusterJobSpec, type ModelState } from './spec.js';

const FINAL: ModelState['state'][] = ['done', 'diverged', 'failed'];

// KEYS[1]: the hash. ARGV: triples (model, state JSON, step). Returns how many updates were stale (not written).
const FORWARD_ONLY = `
local final = { ${FINAL.map((s) => `['${s}'] = true`).join(', ')} }
local stale = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local write = true
  if cur then
    local c = cjson.decode(cur)
    if final[c.state] or tonumber(c.step) > tonumber(ARGV[i + 2]) then write = false end
  end
  if write then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) else stale = stale + 1 end
end
return stale`;

/** Publish models' progress; an update older than what is published (a lower step, or after a final state) is dropped. Returns how many were. */
export async function publishStates(redis: Redis, spec: ClusterJobSpec, updates: [string, Omit<ModelState, 'total'>][]): Promise<number> {
  const args: string[] = [];
  for (const [model, s] of updates) {
    const total = spec.models.find((m) => m.name === model)!.totalSteps;
    args.push(model, JSON.stringify({ ...s, total }), String(s.step));
  }
  return (await redis.eval(FORWARD_ONLY, 1, redisModelsKey(spec.name), ...args)) as number;
}
