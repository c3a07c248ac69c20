/**
 * The scheduler: pure bookkeeping of which shard task runs where, shared by the real executor and the simulator.
 *
 * Protocol (all synchronous, no timers, no tensors):
 *   - `assign(device, now)` when a device is free → its next task, or null if nothing suits it right now;
 *   - `complete(task, seconds, now)` when it finishes → the idle devices to offer work to again;
 *   - `peek(device)` → the task that device will most likely run next (prefetch hint, may be wrong);
 *   - `fail(modelId, reason)` → the model's remaining work is dropped; the others go on;
 *   - early stopping: a model that reaches its horizon (its next rung) is HELD; `extend(modelId, steps)` promotes it
 *     (more work), `stop(modelId, reason)` ends it (no more work); `add(spec)` brings a model into a running job.
 * A device that got null is never forgotten: every completion or failure returns ALL idle devices, and the executor
 * calls `assign` for each (the reference Hydra lost a device whose cached choice was empty).
 */
import { ModelState } from './model-state.js';
import { createPolicy } from './policies/index.js';
import type { DeviceForecast, DeviceView, Policy } from './policy.js';
import { DEFAULT_POLICY, type Locality, type ModelProgress, type ModelSpec, type PolicyName, type SchedulerEvent, type Task, type TaskRef } from './types.js';
import { validateDeviceCount, validateModel, validateModels } from './validate.js';

export interface SchedulerOptions {
  /** A policy name or a policy object (default 'sharded-lrtf'). */
  policy?: PolicyName | Policy;
  /** Seed of the 'random' policy (default 0). */
  seed?: number;
  /**
   * Relative device speeds, if known (default: all 1 until measurements tell). Estimates are for a speed-1 device;
   * a device of speed 2 is expected to take half as long. Measurements keep refining this.
   */
  speeds?: readonly number[];
  /** Refine the per-(model, phase, shard) estimates from measured durations (default true). */
  refine?: boolean;
  onEvent?: (e: SchedulerEvent) => void;
  /** Where shard parameters already are (the executor's shard caches and prefetches); default: nowhere known. */
  locality?: Locality;
}

/** Weight of a new measurement in a device's speed factor (wall seconds / estimated seconds). */
const SPEED_EMA = 0.2;

export class Scheduler {
  /** Every model, in the order given then added (its index); the policies share this array. */
  private readonly all: ModelState[];
  readonly deviceCount: number;
  readonly policy: Policy;
  private readonly byId = new Map<string, ModelState>();
  private readonly running: (Task | null)[];
  /**
   * Per device, for the lookahead's guesses of which device frees first and for speed-aware choices: measured
   * compute seconds relative to the estimate (1/speed when speeds are configured), and wall seconds from assignment to completion relative to the estimate (speed
   * plus transfer stalls and executor overhead, used when the executor does not report compute start times).
   */
  private readonly computeFactor: Float64Array;
  private readonly wallFactor: Float64Array;
  /** Speeds were configured (then the compute factors are 1/speed and stay); else they are learned. */
  private readonly knownSpeeds: boolean;
  private factorSum: number;
  /** Σ over models of their not-yet-started work (estimate units). */
  private remainingSum: number;
  /** Per device: when the task in flight started computing, if the executor said (see `started`). */
  private readonly computeStart: Float64Array;
  private inFlight: (Task | null)[];
  private readonly refine: boolean;
  private readonly listeners: ((e: SchedulerEvent) => void)[] = [];
  private nextSeq = 0;
  /** Models not yet done or failed-and-drained. */
  private unfinished: number;

  constructor(models: readonly ModelSpec[], devices: number, options: SchedulerOptions = {}) {
    validateModels(models);
    validateDeviceCount(devices);
    this.all = models.map((spec, i) => new ModelState(i, spec));
    for (const m of this.all) this.byId.set(m.id, m);
    this.deviceCount = devices;
    this.running = new Array<Task | null>(devices).fill(null);
    this.inFlight = new Array<Task | null>(this.all.length).fill(null);
    if (options.speeds !== undefined) {
      if (options.speeds.length !== devices || !options.speeds.every((v) => v > 0 && Number.isFinite(v))) {
        throw new RangeError(`speeds: expected ${devices} positive numbers (one per device), got [${options.speeds.join(', ')}]`);
      }
    }
    this.computeFactor = Float64Array.from({ length: devices }, (_, d) => 1 / (options.speeds?.[d] ?? 1));
    this.wallFactor = Float64Array.from(this.computeFactor);
    this.knownSpeeds = options.speeds !== undefined;
    this.factorSum = this.computeFactor.reduce((a, b) => a + b, 0);
    this.computeStart = new Float64Array(devices).fill(NaN);
    this.refine = options.refine ?? true;
    this.policy = typeof options.policy === 'object' ? options.policy : createPolicy(options.policy ?? DEFAULT_POLICY, options.seed ?? 0);
    if (options.onEvent) this.listeners.push(options.onEvent);
    const locality = options.locality;
    const view: DeviceView = {
      count: devices,
      availableAt: (d, now) => (this.running[d] ? Math.max(now, this.expectedFinish(d)) : now),
      factor: (d) => this.computeFactor[d],
      remainingWork: () => this.remainingSum,
      returns: (d) => {
        const t = this.running[d];
        const m = t ? this.all[t.model] : null;
        return m && m.status === 'running' && m.hasWork ? m : null;
      },
      local: locality ? (d, m) => locality.local(d, m.index, m.nextShard) : () => false,
      prefetchable: locality ? (m) => locality.prefetchable(m.index, m.nextShard) : () => false,
      switchCost: locality ? (d, m) => locality.copySeconds(d, m.spec.shards[m.nextShard].paramBytes) : () => 0,
    };
    this.policy.attach(this.all, devices, view);
    this.unfinished = this.all.length;
    this.remainingSum = this.all.reduce((a, m) => a + m.notStarted, 0);
    for (const m of this.all) {
      if (m.hasWork) this.policy.ready(m);
      else m.status = 'held'; // resumed while waiting at a rung
    }
  }

  get models(): readonly ModelState[] {
    return this.all;
  }

  /**
   * Bring a model into the running job (it goes last in the order). The others' task sequences are untouched.
   * Returns the idle devices to offer work to.
   */
  add(spec: ModelSpec, now = NaN): number[] {
    validateModel(spec, `add(${JSON.stringify(spec?.id)})`, new Set(this.byId.keys()));
    const m = new ModelState(this.all.length, spec);
    this.all.push(m);
    this.byId.set(m.id, m);
    this.inFlight.push(null);
    this.policy.added(m);
    this.unfinished++;
    this.remainingSum += m.notStarted;
    if (m.hasWork) this.policy.ready(m);
    else m.status = 'held';
    if (this.listeners.length) this.emit({ type: 'model-added', t: now, modelId: m.id });
    return this.idleDevices();
  }

  /**
   * A held model was promoted: it may now train to `steps` (its next rung or its end). Returns the idle devices.
   */
  extend(modelId: string, steps: number, now = NaN): number[] {
    const m = this.model(modelId);
    if (m.status !== 'held') throw new Error(`extend: model '${modelId}' is ${m.status}, not held at a rung`);
    const before = m.notStarted;
    m.setHorizon(steps);
    this.remainingSum += m.notStarted - before;
    if (m.hasWork) {
      m.status = 'pending';
      this.policy.ready(m);
    } else {
      m.status = 'done';
      this.policy.finished(m);
      this.unfinished--;
      if (this.listeners.length) this.emit({ type: 'model-done', t: now, modelId: m.id });
    }
    return this.idleDevices();
  }

  /**
   * End a model before its last step (early stopping, or stopped by name): its remaining work is dropped, like a
   * failure, but it ends 'stopped'. A task of it in flight finishes normally. Stopping an ended model does nothing.
   */
  stop(modelId: string, reason: string, now = NaN): number[] {
    return this.drop(this.model(modelId), 'stopped', reason, now);
  }

  on(listener: (e: SchedulerEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The next task for a free device, or null if nothing is runnable for it right now. */
  assign(device: number, now: number): Task | null {
    this.checkDevice(device);
    const busy = this.running[device];
    if (busy) throw new Error(`assign: device ${device} still runs ${describe(busy)}; complete it first`);
    const m = this.policy.pick(device, now);
    if (!m) return null;
    const ref = m.next();
    // Built field by field (not spread): one hidden class for every task keeps the hot path fast.
    const task: Task = {
      modelId: ref.modelId,
      model: ref.model,
      kind: ref.kind,
      shard: ref.shard,
      minibatch: ref.minibatch,
      epoch: ref.epoch,
      evalBatch: ref.evalBatch,
      seq: this.nextSeq++,
      device,
      estimate: m.estimateOf(ref.kind, ref.shard),
      assignedAt: now,
    };
    const before = m.notStarted;
    m.advance();
    this.remainingSum += m.notStarted - before;
    m.status = 'running';
    this.running[device] = task;
    this.inFlight[m.index] = task;
    if (this.listeners.length) this.emit({ type: 'assign', t: now, device, task });
    return task;
  }

  /**
   * Optional: the task's compute begins (or will begin) at `at`, once its parameters are on the device. Executors
   * that know it (the simulator does; a real one can when the worker reports its transfer done) make the lookahead's
   * guess of which device frees first exact up to compute-time noise, hence better prefetch hints.
   */
  started(task: Task, at: number): void {
    if (this.running[task.device]?.seq !== task.seq) throw new Error(`started: ${describe(task)} is not in flight on device ${task.device}`);
    this.computeStart[task.device] = at;
  }

  /**
   * A task finished after `seconds` of compute (≤ 0 or non-finite: unknown, e.g. it failed — no estimate update).
   * Returns every idle device, the freed one first: the executor must offer each of them work again.
   */
  complete(task: Task, seconds: number, now: number): number[] {
    const d = task.device;
    this.checkDevice(d);
    const running = this.running[d];
    if (!running || running.seq !== task.seq) {
      throw new Error(`complete: ${describe(task)} is not in flight on device ${d}${running ? ` (it runs ${describe(running)})` : ''}`);
    }
    this.running[d] = null;
    this.computeStart[d] = NaN;
    const m = this.all[task.model];
    this.inFlight[m.index] = null;
    m.tasksDone++;
    if (m.status === 'failed' || m.status === 'stopped') {
      this.policy.finished(m);
      this.unfinished--;
    } else {
      // A measurement is divided by the device's relative slowness before it refines the estimate, so a fast
      // device's timings do not make a model look shorter to the others. With configured speeds the estimates stay
      // in speed-1 seconds (the pilot's unit); otherwise in average-device seconds, speeds being learned.
      if (this.refine) m.record(task.kind, task.shard, seconds / this.relativeSlowness(d));
      if (task.estimate > 0) {
        const wall = now - task.assignedAt;
        if (!this.knownSpeeds && seconds > 0 && Number.isFinite(seconds)) {
          const delta = SPEED_EMA * (seconds / task.estimate - this.computeFactor[d]);
          this.computeFactor[d] += delta;
          this.factorSum += delta;
        }
        if (wall > 0 && Number.isFinite(wall)) this.wallFactor[d] += SPEED_EMA * (wall / task.estimate - this.wallFactor[d]);
      }
      const before = m.notStarted;
      m.refresh();
      this.remainingSum += m.notStarted - before;
      if (m.endsStep(task)) m.stepsDone = task.minibatch + 1;
      if (m.hasWork) {
        m.status = 'pending';
        this.policy.ready(m);
      } else if (m.horizon < m.minibatches) {
        // At a rung: nothing runs until a decision extends or stops it; what the policy holds for it is released.
        m.status = 'held';
        this.policy.held(m);
      } else {
        m.status = 'done';
        this.policy.finished(m);
        this.unfinished--;
      }
    }
    if (this.listeners.length) {
      this.emit({ type: 'complete', t: now, device: d, task, seconds });
      if (m.status === 'done') this.emit({ type: 'model-done', t: now, modelId: m.id });
      if (m.status === 'held') this.emit({ type: 'model-held', t: now, modelId: m.id, step: m.horizon });
    }
    return this.idleDevices(d);
  }

  /**
   * Mark a model failed: its remaining work is dropped. A task of it still in flight finishes normally (the executor
   * completes it; its measurement is ignored). Returns the idle devices to offer work to (a pinning policy may have
   * released one). Failing a model that already finished records the failure and drops nothing.
   */
  fail(modelId: string, reason: string, now = NaN): number[] {
    return this.drop(this.model(modelId), 'failed', reason, now);
  }

  private drop(m: ModelState, status: 'failed' | 'stopped', reason: string, now: number): number[] {
    if (m.status === 'failed' || m.status === 'stopped' || (status === 'stopped' && m.status === 'done')) return this.idleDevices();
    const wasRunning = m.status === 'running';
    const dropped = m.status === 'done' ? 0 : m.tasksTotal - m.tasksDone - (wasRunning ? 1 : 0);
    if (m.status === 'pending' || m.status === 'held') {
      if (m.status === 'pending') this.policy.withdraw(m);
      this.policy.finished(m);
      this.unfinished--;
    }
    m.status = status;
    m.reason = reason;
    this.remainingSum -= m.notStarted;
    m.notStarted = 0;
    if (this.listeners.length) {
      this.emit(status === 'failed' ? { type: 'model-failed', t: now, modelId: m.id, reason, droppedTasks: dropped } : { type: 'model-stopped', t: now, modelId: m.id, reason, droppedTasks: dropped });
    }
    return this.idleDevices();
  }

  /** The task this device will most likely run next: a hint for prefetching, never a promise. */
  peek(device: number): TaskRef | null {
    this.checkDevice(device);
    const mine = this.running[device];
    if (!mine) return this.policy.predict({ device, now: NaN, finish: NaN, order: -1, current: null, others: [] });
    const m = this.all[mine.model];
    const finish = this.expectedFinish(device);
    return this.policy.predict({
      device,
      now: mine.assignedAt,
      finish,
      order: mine.seq,
      current: m.status === 'running' && m.hasWork ? m : null,
      others: this.devicesAskingBefore(device, mine, finish),
    });
  }

  isDone(): boolean {
    return this.unfinished === 0;
  }

  /** Whether a model has nothing left to run and nothing in flight (done or failed). */
  modelDone(modelId: string): boolean {
    const m = this.model(modelId);
    return (m.status === 'done' || m.status === 'failed' || m.status === 'stopped') && this.inFlight[m.index] === null;
  }

  /** Devices with no task in flight; `first` (if idle) leads, the rest in id order. */
  idleDevices(first = -1): number[] {
    const out: number[] = [];
    if (first >= 0 && this.running[first] === null) out.push(first);
    for (let d = 0; d < this.deviceCount; d++) if (d !== first && this.running[d] === null) out.push(d);
    return out;
  }

  runningTask(device: number): Task | null {
    this.checkDevice(device);
    return this.running[device];
  }

  /** Estimated seconds of work left for a model; with `now`, the elapsed part of its task in flight is taken off. */
  remainingSeconds(modelId: string, now?: number): number {
    return this.remainingOf(this.model(modelId), now);
  }

  progress(now?: number): ModelProgress[] {
    return this.all.map((m) => this.progressOf(m, now));
  }

  modelProgress(modelId: string, now?: number): ModelProgress {
    return this.progressOf(this.model(modelId), now);
  }

  /**
   * Estimated seconds until all work is done: no schedule beats the busiest of (total work spread evenly over the
   * devices, the longest single model), so this is an optimistic ETA that tightens as estimates are refined.
   */
  etaSeconds(now?: number): number {
    let total = 0, longest = 0;
    for (const m of this.all) {
      const r = this.remainingOf(m, now);
      total += r;
      longest = Math.max(longest, r);
    }
    return Math.max(total / this.deviceCount, longest);
  }

  private progressOf(m: ModelState, now?: number): ModelProgress {
    const p: ModelProgress = {
      id: m.id,
      status: m.status,
      tasksDone: m.tasksDone,
      tasksTotal: m.tasksTotal,
      stepsDone: m.stepsDone,
      minibatches: m.minibatches,
      remainingSeconds: this.remainingOf(m, now),
      fraction: m.status === 'done' ? 1 : m.tasksDone / m.tasksTotal,
    };
    if (m.reason !== undefined) p.reason = m.reason;
    return p;
  }

  private remainingOf(m: ModelState, now?: number): number {
    if (m.status === 'done' || m.status === 'failed' || m.status === 'stopped' || m.status === 'held') return 0;
    const t = this.inFlight[m.index];
    const left = t ? Math.max(0, this.expectedFinish(t.device) - (now === undefined ? t.assignedAt : now)) : 0;
    return m.notStarted + left;
  }

  /** Seconds per estimated second on this device, relative to the unit the estimates are kept in. */
  private relativeSlowness(d: number): number {
    return this.knownSpeeds ? this.computeFactor[d] : (this.computeFactor[d] * this.deviceCount) / this.factorSum;
  }

  private expectedFinish(device: number): number {
    const t = this.running[device]!;
    const start = this.computeStart[device];
    return Number.isNaN(start) ? t.assignedAt + t.estimate * this.wallFactor[device] : start + t.estimate * this.computeFactor[device];
  }

  /** The other devices that ask for work before `device` frees (at `finish`): idle ones, then earlier finishers. */
  private devicesAskingBefore(device: number, mine: Task, finish: number): DeviceForecast[] {
    const out: DeviceForecast[] = [];
    for (let e = 0; e < this.deviceCount; e++) {
      if (e === device) continue;
      const t = this.running[e];
      if (!t) {
        out.push({ device: e, at: mine.assignedAt, order: -1, returns: null, factor: this.wallFactor[e] });
        continue;
      }
      // Equal expected finishes (identical tasks) resolve first-assigned-first-done, like a FIFO event queue.
      const at = this.expectedFinish(e);
      if (at < finish || (at === finish && t.seq < mine.seq)) {
        const m = this.all[t.model];
        out.push({ device: e, at, order: t.seq, returns: m.status === 'running' && m.hasWork ? m : null, factor: this.wallFactor[e] });
      }
    }
    return out.sort((a, b) => a.at - b.at || a.order - b.order || a.device - b.device);
  }

  private model(modelId: string): ModelState {
    const m = this.byId.get(modelId);
    if (!m) throw new RangeError(`unknown model '${modelId}' (known: ${[...this.byId.keys()].slice(0, 5).join(', ')}${this.byId.size > 5 ? ', …' : ''})`);
    return m;
  }

  private checkDevice(d: number): void {
    if (!Number.isInteger(d) || d < 0 || d >= this.deviceCount) {
      throw new RangeError(`device: expected an integer in [0, ${this.deviceCount - 1}], got ${d}`);
    }
  }

  private emit(e: SchedulerEvent): void {
    for (const l of this.listeners) l(e);
  }
}

function describe(t: Task): string {
  const what = t.kind === 'E' ? `E${t.shard} (eval batch ${t.evalBatch} after step ${t.minibatch})` : `${t.kind}${t.shard} of step ${t.minibatch}`;
  return `task #${t.seq} (model '${t.modelId}' ${what})`;
}
