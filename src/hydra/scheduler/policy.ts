/**
 * The policy interface. The scheduler core owns the task sequences, the in-flight bookkeeping and the estimates; a
 * policy only decides WHICH ready model a free device serves next (and guesses it ahead of time for prefetching).
 */
import type { ModelState } from './model-state.js';
import type { PolicyName, TaskRef } from './types.js';

/** A device that will ask for work before the one being looked ahead for. */
export interface DeviceForecast {
  device: number;
  /** When it is expected to ask: now for an idle device, else its task's expected finish. */
  at: number;
  /** Tie-break among equal times: the task's sequence number (-1 for an idle device). */
  order: number;
  /** The model it returns to the pool when it frees (null if none). */
  returns: ModelState | null;
  /** Its seconds per estimated second (relative slowness), to replay the tasks it would take next. */
  factor: number;
}

/** What a policy may use to guess a device's next task before the device frees. */
export interface Lookahead {
  device: number;
  /** The time of the lookahead (the device's assignment time; NaN for an idle device). */
  now: number;
  /** When this device is expected to free, and its task's sequence number (for ties). */
  finish: number;
  order: number;
  /**
   * The model this device is running, if its next task will be ready when the current one completes (so the policy
   * can weigh it against the ready models: affinity makes for prefetch hits). Null when the device is idle.
   */
  current: ModelState | null;
  /**
   * The other devices that ask for work before this one frees: idle ones (they take work at the first chance) and
   * busy ones expected to finish earlier, sorted by (at, order).
   */
  others: readonly DeviceForecast[];
}

/** What a policy may know about the devices when it decides (read-only view kept by the scheduler). */
export interface DeviceView {
  readonly count: number;
  /** When the device can start new work: `now` if idle, else its task's expected finish (never before `now`). */
  availableAt(device: number, now: number): number;
  /** Its seconds per estimated second (1 = as estimated; 0.5 = twice as fast), learned from measurements. */
  factor(device: number): number;
  /** Estimated work not yet started, summed over all models (estimate seconds). */
  remainingWork(): number;
  /** The model the device runs and will put back in the pool when it frees (null: idle, or its model has no more work). */
  returns(device: number): ModelState | null;
  /** Whether m's next shard is on the device (or on its way there) at its current parameter version. */
  local(device: number, m: ModelState): boolean;
  /** Whether m's next shard could be prefetched now (its task in flight does not step it); false without locality. */
  prefetchable(m: ModelState): boolean;
  /** Measured seconds this device would spend copying m's next shard in (0 when the executor does not say). */
  switchCost(device: number, m: ModelState): number;
}

export interface Policy {
  readonly name: PolicyName;
  /** Called once, before any other method. */
  attach(models: readonly ModelState[], devices: number, view: DeviceView): void;
  /** The model has work and no task in flight. */
  ready(m: ModelState): void;
  /** The model was ready but must not run any more (it failed). */
  withdraw(m: ModelState): void;
  /**
   * The model has no work until an early-stopping decision (held at a rung) and nothing in flight: release what would
   * keep a device waiting for it (it comes back through `ready`, or ends through `finished`).
   */
  held(m: ModelState): void;
  /** A model joined the running job (index = the previous model count): grow whatever is sized by models. */
  added(m: ModelState): void;
  /** The model has no more work and nothing in flight (done, failed or stopped): release whatever is held for it. */
  finished(m: ModelState): void;
  /** Choose a ready model for this free device and drop it from the ready structures, or null if none suits it. */
  pick(device: number, now: number): ModelState | null;
  /** The task this device will most likely run next (a hint; never mutates). */
  predict(look: Lookahead): TaskRef | null;
}
