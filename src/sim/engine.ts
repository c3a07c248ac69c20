/**
 * Discrete-event simulation of a Hydra job: the SAME Scheduler and policies as the real executor, driven by a cost
 * model instead of devices.
 *
 * Cost model, per task on device d (the executor's copies, device-cache.ts):
 *   - parameters: the task's shard must be on the device. If the device's shard cache holds it at its current
 *     parameter version, nothing moves. If it is the shard the device prefetched on the scheduler's peek hint (at the
 *     current version), the copy overlapped the previous task's compute (it only stalls if it has not finished).
 *     Otherwise the copy is serial: paramBytes / bandwidth (Workload.sharedBandwidth while another device computes;
 *     a prefetch always runs beside its device's own task, so at that rate). A prefetch starts only when its
 *     parameters fit the running model's prefetch reserve (SimModel.reserve; without one, when the running shard's
 *     peak and the parameters fit the device), and only if the model's task in flight does not step that shard (the
 *     executor's prefetch-safety rule); cached copies are evicted least recently used for the room. A prefetch the next task
 *     does not use is dropped, its bytes copied for nothing (counted, as the executor counts them).
 *   - the task's other copies (batch, boundary activations, gradients: SimShard.taskBytes) are serial, as the
 *     executor awaits them inside the task.
 *   - dispatch: a task starts Workload.dispatchSeconds after its device was given it (the orchestrator's round trip
 *     between a device's report and its next task); parameter copies begin then too. Not compute, not a stall.
 *   - compute: the measured seconds of the task's kind (SimShard.seconds, or sharedSeconds while another device is
 *     computing; default the estimate) / device speed (× optional noise). The scheduler is told the estimates up
 *     front and, after each task, its compute seconds with its own non-parameter copies (see the push below).
 * After a task its shard stays cached unless the task stepped it and the optimizer steps the host's copy
 * (Workload.stepOn 'host', unless the shard steps on its device: SimShard.stepsOnDevice); a step makes every other
 * device's copy of the shard stale.
 */
import { Scheduler } from '../hydra/scheduler/scheduler.js';
import { defaultEvalSteps } from '../hydra/scheduler/model-state.js';
import { DEFAULT_POLICY, KIND_INDEX, type ModelSpec, type Task } from '../hydra/scheduler/types.js';
import { createEarlyStopper, describeStop, type EarlyStopper } from '../hydra/scheduler/early-stopping/index.js';
import { EventQueue } from './event-queue.js';
import { prefetchIsSafe, shardKey, SimDeviceCache, steppedShards } from './device-cache.js';
import type { SimOptions, SimResult, TimelineEntry, Workload } from './types.js';
import { validateWorkload } from './validate-workload.js';

interface DeviceState {
  cache: SimDeviceCache;
  /** When the device's latest task computes (copies done): another device's task over that time shares the cores. */
  computeStart: number;
  computeEnd: number;
  busySeconds: number;
  stallSeconds: number;
  tasks: number;
}

export function simulate(workload: Workload, options: SimOptions = {}): SimResult {
  validateWorkload(workload);
  const policy = options.policy ?? DEFAULT_POLICY;
  const seed = options.seed ?? 0;
  const noise = options.noise ?? 0;
  const pilotError = options.pilotError ?? 0;
  if (!(noise >= 0 && noise < 1)) throw new RangeError(`noise: expected a number in [0, 1), got ${noise}`);
  if (!(pilotError >= 0 && pilotError < 1)) throw new RangeError(`pilotError: expected a number in [0, 1), got ${pilotError}`);
  const { devices, bandwidth } = workload;
  const sharedBandwidth = workload.sharedBandwidth ?? bandwidth;
  const dispatchDelay = workload.dispatchSeconds ?? 0;
  const stopper = options.earlyStopping ? createEarlyStopper(options.earlyStopping.rule) : null;
  const models = stopper ? workload.models.map((m, i) => withRungs(m, i, stopper)) : workload.models;
  for (const id of Object.keys(options.failures ?? {})) {
    if (!models.some((m) => m.id === id)) throw new RangeError(`failures: unknown model '${id}'`);
  }

  const pilot: ModelSpec[] = pilotError === 0 ? models : models.map((m, i) => perturb(m, i, pilotError, seed));
  const state: DeviceState[] = devices.map(() => ({ cache: new SimDeviceCache(), computeStart: 0, computeEnd: 0, busySeconds: 0, stallSeconds: 0, tasks: 0 }));
  /** Per shard key: how many tasks have stepped its parameters (a copy at an older version is stale). */
  const versions = new Map<number, number>();
  const versionOf = (key: number) => versions.get(key) ?? 0;
  const hostSteps = workload.stepOn === 'host';
  /** Per model: its task in flight (a prefetch must not load a shard that task steps). */
  const inFlight: (Task | null)[] = models.map(() => null);
  const locality = {
    local: (d: number, model: number, shard: number) => {
      const key = shardKey(model, shard);
      return state[d].cache.local(key, versionOf(key));
    },
    copySeconds: (_d: number, bytes: number) => bytes / bandwidth,
    prefetchable: (model: number, shard: number) => prefetch && prefetchIsSafe(models[model], inFlight[model], shard),
  };
  const sched = new Scheduler(pilot, devices.length, { policy, seed, refine: options.refine ?? true, speeds: devices.map((d) => d.speed), locality });
  const queue = new EventQueue<{ task: Task; seconds: number }>();
  const finish = new Float64Array(models.length);
  const timeline: TimelineEntry[] | undefined = options.timeline ? [] : undefined;
  const transfers = { bytes: 0, taskBytes: 0, resident: 0, evictions: 0, prefetchHits: 0, prefetchDropped: 0, serial: 0, stallSeconds: 0 };
  const prefetch = options.prefetch ?? true;
  let tasks = 0, makespan = 0;
  const dropped = (p: { bytes: number }) => {
    transfers.prefetchDropped++;
    transfers.bytes += p.bytes;
  };

  const dispatch = (d: number, task: Task, now: number) => {
    const dev = devices[d], st = state[d], cache = st.cache;
    const model = models[task.model];
    const shard = model.shards[task.shard];
    const key = shardKey(task.model, task.shard);
    const version = versionOf(key);
    const given = now + dispatchDelay;
    let ready = given, copySeconds = 0;
    // A serial copy that starts while another device computes shares the memory bandwidth with it (no scan over the
    // devices when the two rates are the same: every workload without sharedBandwidth).
    const copyRate = sharedBandwidth !== bandwidth && state.some((o, e) => e !== d && o.computeStart <= given && given < o.computeEnd) ? sharedBandwidth : bandwidth;
    const pre = cache.prefetched;
    cache.prefetched = null;
    const hit = cache.take(key, version);
    if (hit) transfers.resident++;
    if (!hit && pre?.key === key && pre.version === version) {
      ready = Math.max(given, pre.readyAt);
      transfers.prefetchHits++;
      transfers.bytes += shard.paramBytes;
    } else {
      if (pre) dropped(pre);
      if (!hit) {
        copySeconds += shard.paramBytes / copyRate;
        transfers.serial++;
        transfers.bytes += shard.paramBytes;
      }
    }
    cache.makeRoom(shard.peakBytes, dev.memoryBytes);
    const io = shard.taskBytes?.[task.kind] ?? 0;
    copySeconds += io / copyRate;
    ready += copySeconds;
    transfers.taskBytes += io;
    st.stallSeconds += ready - given;
    transfers.stallSeconds += ready - given;
    const shared = state.some((o, e) => e !== d && o.computeStart <= ready && ready < o.computeEnd);
    const measured = (shared ? (shard.sharedSeconds ?? shard.seconds) : shard.seconds)?.[task.kind] ?? shard[task.kind];
    const seconds = (measured * noiseFactor(task, noise, seed)) / dev.speed;
    const end = ready + seconds;
    st.computeStart = ready;
    st.computeEnd = end;
    st.busySeconds += seconds;
    st.tasks++;
    // Steps: the stepped shards' versions move on; this device keeps its copy unless the host's copy was stepped.
    const stepped = steppedShards(model, task).map((k) => shardKey(task.model, k));
    for (const k of stepped) versions.set(k, versionOf(k) + 1);
    cache.invalidate(stepped.filter((k) => k !== key));
    inFlight[task.model] = task;
    const keeps = !(hostSteps && !shard.stepsOnDevice && stepped.includes(key));
    cache.keeping = keeps ? { key, version: versionOf(key) } : null;
    sched.started(task, ready);
    if (prefetch) {
      const hint = sched.peek(d);
      if (hint) {
        const next = models[hint.model].shards[hint.shard];
        const hintKey = shardKey(hint.model, hint.shard);
        const hintVersion = versionOf(hintKey);
        const fits = model.reserve !== undefined ? next.paramBytes <= model.reserve : shard.peakBytes + next.paramBytes <= dev.memoryBytes;
        if (!cache.local(hintKey, hintVersion) && prefetchIsSafe(models[hint.model], inFlight[hint.model], hint.shard) && fits) {
          cache.makeRoom(shard.peakBytes + next.paramBytes, dev.memoryBytes);
          cache.prefetched = { key: hintKey, version: hintVersion, bytes: next.paramBytes, readyAt: ready + next.paramBytes / sharedBandwidth };
        }
      }
    }
    // After the task its parameters stay (their room is part of the task's peak until then).
    cache.keeping = null;
    if (keeps) cache.put(key, versionOf(key), shard.paramBytes);
    timeline?.push({ device: d, modelId: task.modelId, model: task.model, kind: task.kind, shard: task.shard, minibatch: task.minibatch, assigned: now, start: ready, end });
    // The scheduler is told what the executor reports: the task's seconds with its own copies (its worker times them
    // together), so remaining-time estimates, and LRTF's balance, count the copies a model's tasks make.
    queue.push(end, { task, seconds: seconds + io / copyRate });
    tasks++;
  };

  const offer = (idle: number[], now: number) => {
    for (const d of idle) {
      const t = sched.assign(d, now);
      if (t) dispatch(d, t, now);
    }
  };

  const decide = (decisions: ReturnType<EarlyStopper['report']>, now: number) => {
    for (const d of decisions) {
      const id = models[d.model].id;
      if (d.action === 'stop') sched.stop(id, describeStop(d.reason!), now);
      else sched.extend(id, d.horizon, now);
    }
  };

  offer(sched.idleDevices(), 0);
  // Devices finishing at the same instant all free before any is given work, as they would on real hardware: the
  // first one served must not be offered work while the others still look busy (it would skew the lookahead too).
  while (queue.size > 0) {
    const now = queue.nextTime();
    const freed = new Set<number>();
    while (queue.size > 0 && queue.nextTime() === now) {
      const { task, seconds } = queue.pop()!.item;
      makespan = now;
      finish[task.model] = now;
      inFlight[task.model] = null;
      sched.complete(task, seconds, now);
      freed.add(task.device);
      const failAt = options.failures?.[task.modelId];
      if (failAt === task.minibatch && task.kind === 'FL' && !sched.modelDone(task.modelId)) {
        sched.fail(task.modelId, `loss became NaN at step ${failAt} (simulated)`, now);
        if (stopper) decide(stopper.end(task.model), now);
      }
      const m = sched.models[task.model];
      if (stopper && m.status === 'held') decide(stopper.report(task.model, m.horizon, options.earlyStopping!.curve(task.model, m.horizon)), now);
    }
    const idle = sched.idleDevices();
    offer([...freed, ...idle.filter((d) => !freed.has(d))], now);
  }
  if (!sched.isDone()) {
    const stuck = sched.progress().filter((p) => p.status !== 'done' && p.status !== 'failed' && p.status !== 'stopped').map((p) => p.id);
    throw new Error(`simulation stalled with every device idle; unfinished models: ${stuck.slice(0, 5).join(', ')} (scheduler bug)`);
  }

  // Prefetches still waiting at the end were copied for nothing (the executor drops them at shut-down).
  for (const st of state) if (st.cache.prefetched) dropped(st.cache.prefetched);

  const deviceRows = state.map((st, id) => ({
    id,
    speed: devices[id].speed,
    busySeconds: st.busySeconds,
    stallSeconds: st.stallSeconds,
    tasks: st.tasks,
    utilisation: makespan > 0 ? st.busySeconds / makespan : 0,
  }));
  const result: SimResult = {
    workload: workload.name,
    policy,
    makespan,
    tasks,
    devices: deviceRows,
    utilisation: deviceRows.reduce((a, r) => a + r.utilisation, 0) / deviceRows.length,
    models: sched.progress().map((p, i) => ({ id: p.id, status: p.status, finish: finish[i], ...(p.reason ? { reason: p.reason } : {}) })),
    transfers: { ...transfers, evictions: state.reduce((a, st) => a + st.cache.evictions, 0) },
  };
  if (timeline) result.timeline = timeline;
  return result;
}

/** A deterministic hash of integers to [0, 1): scheduling order never changes a task's draw. */
export function hashUniform(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) / 4294967296;
}

function noiseFactor(t: Task, noise: number, seed: number): number {
  if (noise === 0) return 1;
  const u = hashUniform(seed, 1, t.model, KIND_INDEX[t.kind], t.shard, t.minibatch, t.evalBatch ?? -1);
  return 1 + noise * (2 * u - 1);
}

/** The model with its first rung as horizon and an evaluation pass after each rung's last step. */
function withRungs<M extends ModelSpec>(m: M, index: number, stopper: EarlyStopper): M {
  const horizon = stopper.add(index, m.minibatches);
  if (!m.evalBatches) return { ...m, horizon };
  const evals = m.evalAfter ?? defaultEvalSteps(m.minibatches, m.stepsPerEpoch ?? m.minibatches);
  return { ...m, horizon, evalAfter: [...new Set([...evals, ...stopper.rungsOf(index).map((r) => r - 1)])].sort((a, b) => a - b) };
}

function perturb(m: ModelSpec, index: number, e: number, seed: number): ModelSpec {
  const f = (kind: number, shard: number) => 1 + e * (2 * hashUniform(seed, 2, index, kind, shard) - 1);
  return {
    ...m,
    shards: m.shards.map((s, k) => ({ ...s, F: s.F * f(0, k), FL: s.FL * f(1, k), B: s.B * f(2, k), E: s.E * f(3, k) })),
  };
}
