/** The Hydra scheduler: pure logic (no tensors), shared by the real executor and the simulator. */
export * from './types.js';
export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { createPolicy, isPolicyName, pipelineDevice } from './policies/index.js';
export type { Policy, Lookahead } from './policy.js';
export { ModelState, defaultEvalSteps } from './model-state.js';
export { shardCost } from './shard-cost.js';
