/**
 * One model's place in its task sequence, and its estimated remaining work.
 *
 * The sequence is never materialised: a cursor (step, position in the step's block) names the next task, and the
 * remaining time is computed in O(shards) from per-(phase, shard) estimates, so models with millions of tasks cost
 * nothing until they run. A step's block is the 2n-1 training tasks, followed by the evaluation pass (evalBatches × n
 * E tasks) when an evaluation is due after that step.
 *
 * The HORIZON is the step count the model may train to for now: its last step, or — under early stopping — its next
 * rung, where it holds until a decision extends the horizon (promoted) or ends it (stopped). Remaining work is
 * counted up to the horizon, so a promotion adds work and a stop removes it, and LRTF re-plans accordingly.
 */
import { KIND_INDEX, type ModelSpec, type ModelStatus, type TaskKind, type TaskRef } from './types.js';

export class ModelState {
  readonly n: number;
  readonly minibatches: number;
  readonly stepsPerEpoch: number;
  readonly evalBatches: number;
  /** Sorted steps after which an evaluation pass runs. */
  readonly evalSteps: readonly number[];
  private readonly evalSet: ReadonlySet<number>;
  /** Tasks up to the horizon. */
  tasksTotal: number;
  /** Steps the model may run for now (≤ minibatches). */
  horizon: number;

  /** Cursor: the next task not yet handed out. */
  step = 0;
  pos = 0;
  status: ModelStatus = 'pending';
  reason?: string;
  tasksDone = 0;
  stepsDone = 0;
  /** Estimated seconds of the tasks not yet handed out (the key of the LRTF heaps). */
  notStarted = 0;

  /** Estimates per (phase, shard) at index kind*n + shard; the pilot values until measurements replace them. */
  private readonly estimate: Float64Array;
  private readonly measuredSum: Float64Array;
  private readonly measuredCount: Uint32Array;
  /** Cached sums under the current estimates: one training step, one evaluation pass. */
  private trainStepSeconds = 0;
  private evalPassSeconds = 0;

  constructor(
    readonly index: number,
    readonly spec: ModelSpec,
  ) {
    const n = spec.shards.length;
    this.n = n;
    this.minibatches = spec.minibatches;
    this.stepsPerEpoch = spec.stepsPerEpoch ?? spec.minibatches;
    this.evalBatches = spec.evalBatches ?? 0;
    this.evalSteps = this.evalBatches > 0 ? [...new Set(spec.evalAfter ?? defaultEvalSteps(this.minibatches, this.stepsPerEpoch))].sort((a, b) => a - b) : [];
    this.evalSet = new Set(this.evalSteps);
    this.horizon = spec.horizon ?? this.minibatches;
    this.tasksTotal = this.tasksTo(this.horizon);
    this.estimate = new Float64Array(4 * n);
    this.measuredSum = new Float64Array(4 * n);
    this.measuredCount = new Uint32Array(4 * n);
    spec.shards.forEach((s, k) => {
      this.estimate[KIND_INDEX.F * n + k] = s.F;
      this.estimate[KIND_INDEX.FL * n + k] = s.FL;
      this.estimate[KIND_INDEX.B * n + k] = s.B;
      this.estimate[KIND_INDEX.E * n + k] = s.E;
    });
    this.recomputeSums();
    this.notStarted = this.remainingFromCursor();
  }

  get id(): string {
    return this.spec.id;
  }

  get hasWork(): boolean {
    return this.step < this.horizon;
  }

  /** Move the horizon (a rung decision, or holding at the next rung); the cursor must not be past it. */
  setHorizon(steps: number): void {
    if (!Number.isInteger(steps) || steps < this.step || steps > this.minibatches || (steps === this.step && this.pos > 0)) {
      throw new RangeError(`horizon of '${this.id}': expected a step count in [${this.step}, ${this.minibatches}], got ${steps}`);
    }
    this.horizon = steps;
    this.tasksTotal = this.tasksTo(steps);
    this.notStarted = this.remainingFromCursor();
  }

  /** Tasks in the first `steps` steps (their training blocks and the evaluations due after them). */
  private tasksTo(steps: number): number {
    return steps * (2 * this.n - 1) + lowerBound(this.evalSteps, steps) * this.evalBatches * this.n;
  }

  estimateOf(kind: TaskKind, shard: number): number {
    return this.estimate[KIND_INDEX[kind] * this.n + shard];
  }

  /** Replace the pilot estimate of (kind, shard) by the running mean of the measured durations. */
  record(kind: TaskKind, shard: number, seconds: number): void {
    if (!(seconds > 0) || !Number.isFinite(seconds)) return; // a failed or aborted task tells nothing about cost
    const i = KIND_INDEX[kind] * this.n + shard;
    this.measuredSum[i] += seconds;
    this.measuredCount[i]++;
    this.estimate[i] = this.measuredSum[i] / this.measuredCount[i];
  }

  /** Re-derive the cached sums and the remaining work after estimates changed. O(n). */
  refresh(): void {
    this.recomputeSums();
    this.notStarted = this.remainingFromCursor();
  }

  blockLength(step: number): number {
    return 2 * this.n - 1 + (this.evalSet.has(step) ? this.evalBatches * this.n : 0);
  }

  /** The task at the cursor (the model must have work). */
  next(): TaskRef {
    return this.taskAt(this.step, this.pos);
  }

  /** The task `offset` positions after the cursor, or null past the end. O(offset). */
  ahead(offset: number): TaskRef | null {
    let s = this.step, p = this.pos;
    for (let i = 0; i < offset && s < this.horizon; i++) {
      if (++p === this.blockLength(s)) (s++, (p = 0));
    }
    return s < this.horizon ? this.taskAt(s, p) : null;
  }

  /**
   * Estimate of the task `offset` positions after the cursor, or NaN past the end: what ahead(offset) would give
   * estimateOf for, without building the task (the lookahead's replay asks this for every task it plays). O(offset).
   */
  estimateAhead(offset: number): number {
    let s = this.step, p = this.pos;
    for (let i = 0; i < offset && s < this.horizon; i++) {
      if (++p === this.blockLength(s)) (s++, (p = 0));
    }
    if (s >= this.horizon) return NaN;
    const T = 2 * this.n - 1;
    return p < T ? this.trainEstimateAt(p) : this.estimate[KIND_INDEX.E * this.n + ((p - T) % this.n)];
  }

  /**
   * The first task from the cursor on that satisfies `ok`, looking at most one block plus one training pass ahead
   * (far enough to meet every shard once), or null.
   */
  findAhead(ok: (t: TaskRef) => boolean): TaskRef | null {
    let s = this.step, p = this.pos;
    const limit = this.hasWork ? this.blockLength(s) + 2 * this.n : 0;
    for (let i = 0; i < limit && s < this.horizon; i++) {
      const t = this.taskAt(s, p);
      if (ok(t)) return t;
      if (++p === this.blockLength(s)) (s++, (p = 0));
    }
    return null;
  }

  /**
   * Move the cursor past the next task. The remaining work is recomputed from the cursor (O(n)), not decremented:
   * identical models must get bit-identical keys whichever path computed them, or LRTF's index tie-break (and the
   * lookahead that replays it) would hinge on rounding.
   */
  advance(): void {
    if (++this.pos === this.blockLength(this.step)) {
      this.step++;
      this.pos = 0;
    }
    this.notStarted = this.remainingFromCursor();
  }

  taskAt(step: number, pos: number): TaskRef {
    const n = this.n;
    const modelId = this.spec.id, model = this.index, epoch = Math.floor(step / this.stepsPerEpoch);
    if (pos < n - 1) return { modelId, model, kind: 'F', shard: pos, minibatch: step, epoch };
    if (pos === n - 1) return { modelId, model, kind: 'FL', shard: n - 1, minibatch: step, epoch };
    if (pos < 2 * n - 1) return { modelId, model, kind: 'B', shard: 2 * n - 2 - pos, minibatch: step, epoch };
    const q = pos - (2 * n - 1);
    return { modelId, model, kind: 'E', shard: q % n, minibatch: step, epoch, evalBatch: Math.floor(q / n) };
  }

  /** Estimate of the training task at position pos (< 2n-1) of a step, without building the task. */
  private trainEstimateAt(pos: number): number {
    const n = this.n;
    if (pos < n - 1) return this.estimate[KIND_INDEX.F * n + pos];
    if (pos === n - 1) return this.estimate[KIND_INDEX.FL * n + pos];
    return this.estimate[KIND_INDEX.B * n + 2 * n - 2 - pos];
  }

  /** The shard of the task at the cursor (the model must have work), without building the task. */
  get nextShard(): number {
    const n = this.n, p = this.pos;
    if (p < n) return p; // F0 … F(n-2), FL(n-1)
    return p < 2 * n - 1 ? 2 * n - 2 - p : (p - (2 * n - 1)) % n;
  }

  /** Estimate of the task at the cursor (the model must have work), without building the task. */
  nextEstimate(): number {
    const T = 2 * this.n - 1;
    return this.pos < T ? this.trainEstimateAt(this.pos) : this.estimate[KIND_INDEX.E * this.n + ((this.pos - T) % this.n)];
  }

  /**
   * Estimated seconds of the tasks of the step that, `offset` positions after the cursor, are already handed out (0
   * at a step's first task). O(offset + block).
   */
  doneInStep(offset = 0): number {
    let s = this.step, p = this.pos;
    for (let i = 0; i < offset && s < this.horizon; i++) {
      if (++p === this.blockLength(s)) (s++, (p = 0));
    }
    const T = 2 * this.n - 1;
    let done = 0;
    for (let q = 0; q < p; q++) done += q < T ? this.trainEstimateAt(q) : this.estimate[KIND_INDEX.E * this.n + ((q - T) % this.n)];
    return done;
  }

  /** Whether a task is the last of its training step (the step is complete once it finishes). */
  endsStep(t: TaskRef): boolean {
    return t.kind === 'B' ? t.shard === 0 : t.kind === 'FL' && this.n === 1;
  }

  private recomputeSums(): void {
    const n = this.n;
    let train = this.estimate[KIND_INDEX.FL * n + n - 1];
    let evalBatch = 0;
    for (let k = 0; k < n; k++) {
      if (k < n - 1) train += this.estimate[KIND_INDEX.F * n + k] + this.estimate[KIND_INDEX.B * n + k];
      evalBatch += this.estimate[KIND_INDEX.E * n + k];
    }
    this.trainStepSeconds = train;
    this.evalPassSeconds = evalBatch * this.evalBatches;
  }

  /** Estimated seconds of the tasks from `offset` positions after the cursor on (what the key will be then). */
  remainingAfter(offset: number): number {
    let s = this.step, p = this.pos;
    for (let i = 0; i < offset && s < this.horizon; i++) {
      if (++p === this.blockLength(s)) (s++, (p = 0));
    }
    return this.remainingAt(s, p);
  }

  private remainingFromCursor(): number {
    return this.remainingAt(this.step, this.pos);
  }

  /** Sum of the estimates of every task from (step, pos) on. O(n + log evals). */
  private remainingAt(step: number, pos: number): number {
    const n = this.n;
    if (step >= this.horizon) return 0;
    const T = 2 * n - 1;
    let current = 0;
    for (let p = pos; p < T; p++) current += this.trainEstimateAt(p);
    if (this.evalSet.has(step)) {
      if (pos <= T) current += this.evalPassSeconds;
      else {
        const q = pos - T, b = Math.floor(q / n);
        for (let k = q % n; k < n; k++) current += this.estimate[KIND_INDEX.E * n + k];
        current += (this.evalBatches - b - 1) * (this.evalPassSeconds / this.evalBatches);
      }
    }
    const laterSteps = this.horizon - step - 1;
    const laterEvals = lowerBound(this.evalSteps, this.horizon) - upperBound(this.evalSteps, step);
    return current + laterSteps * this.trainStepSeconds + laterEvals * this.evalPassSeconds;
  }
}

/** After the last step of every full epoch, and after the last step of training. */
export function defaultEvalSteps(minibatches: number, stepsPerEpoch: number): number[] {
  const out: number[] = [];
  for (let s = stepsPerEpoch; s <= minibatches; s += stepsPerEpoch) out.push(s - 1);
  if (out[out.length - 1] !== minibatches - 1) out.push(minibatches - 1);
  return out;
}

/** Index of the first element > x in a sorted array. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element ≥ x in a sorted array. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
