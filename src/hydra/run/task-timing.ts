/**
 * Where a device's time goes around one task, in seconds: the task's own phases (runShardTask) and what surrounds
 * them on the worker. Always on (a clock read at each phase boundary); reported with every task (task-end events'
 * `timing`), and what bench:grid compares with the simulator's charge for the same task.
 */

/** Phases inside runShardTask; the laps partition its wall time, so they add up to it. */
export type TaskPhase = 'copyIn' | 'forward' | 'backward' | 'copyOut' | 'step' | 'other';
export type TaskPhases = Record<TaskPhase, number>;

export interface TaskTiming extends TaskPhases {
  /**
   * From the device posting its previous report to this task's message arriving: the orchestrator's round trip
   * (messages both ways, the main thread's bookkeeping and scheduling), plus any time the device had no work. Absent
   * for a device's first task.
   */
  gap?: number;
  /** From the message arriving to the device starting it (an earlier message still being handled). */
  queued: number;
  /** Before the task proper: write-backs settling, making room, waiting for its prefetch's copies to land. */
  prep: number;
  /** After runShardTask until the report is posted (cache bookkeeping). */
  after: number;
}

/** A stopwatch whose laps partition the time since it was made: lap(p) books the time since the last lap to p. */
export function phaseClock(): { phases: TaskPhases; lap(p: TaskPhase): void } {
  const phases: TaskPhases = { copyIn: 0, forward: 0, backward: 0, copyOut: 0, step: 0, other: 0 };
  let mark = performance.now();
  return {
    phases,
    lap(p) {
      const t = performance.now();
      phases[p] += (t - mark) / 1000;
      mark = t;
    },
  };
}
