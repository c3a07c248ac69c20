/** Policy factory: name → policy object. */
import type { Policy } from '../policy.js';
import { POLICY_NAMES, type PolicyName } from '../types.js';
import { ModelLrtf } from './model-lrtf.js';
import { Pipeline } from './pipeline.js';
import { RandomPolicy } from './random.js';
import { RoundRobin } from './round-robin.js';
import { ShardedLrtf } from './sharded-lrtf.js';

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

export function createPolicy(name: PolicyName, seed = 0): Policy {
  switch (name) {
    case 'sharded-lrtf':
      return new ShardedLrtf();
    case 'round-robin':
      return new RoundRobin();
    case 'random':
      return new RandomPolicy(seed);
    case 'model-lrtf':
      return new ModelLrtf();
    case 'pipeline':
      return new Pipeline();
    default:
      throw new RangeError(`policy: expected one of ${POLICY_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
  }
}

export { ModelLrtf, Pipeline, RandomPolicy, RoundRobin, ShardedLrtf };
export { pipelineDevice } from './pipeline.js';
