/**
 * `train(tasks, options)`: the Hydra orchestrator. Plan every model (pilot pass + partitioner, or a cached plan) and
 * place their state across the tiers (job-plan.ts) while the devices start; then let the scheduler hand shard tasks
 * of all models to whichever device frees up (job-run.ts) until every model has finished, failed or been stopped. The
 * first model trains as soon as its first shard is initialised; the others are given their state and weights behind
 * it and join the running job one by one. With a checkpoint directory, models are checkpointed at minibatch
 * boundaries (every `checkpointEvery` steps, and when the job is stopped through `signal`), and `resume` continues
 * each model from its checkpoint (a resumed job reads every model back before anything trains).
 */
import { readFileSync } from 'node:fs';
import type { HydraEvent, JobResult, PrefetchTotals, TrainOptions, TrainTask } from '../api.js';
import { parseDevices } from '../run/device-spec.js';
import { startDevices } from '../run/device-pool.js';
import { emptyCacheTotals, type CacheTotals } from '../run/shard-cache.js';
import { DEFAULT_POLICY } from '../scheduler/types.js';
import { JobTiers } from '../tier/job-tiers.js';
import { activationMode } from '../tier/activation-offload.js';
import { devicesInRam } from '../tier/physical-memory.js';
import { formatBytes, parseBytes } from '../units.js';
import { checkMemoryBudgets, modelBytes } from '../plan/memory-check.js';
import { stateNames } from '../../optim/optimizer.js';
import type { JobControl } from './job-control.js';
import { JobEarlyStopping } from './job-early-stopping.js';
import { loadModel, loadResumed, planJob, type JobContext, type PlannedJob } from './job-plan.js';
import type { ModelJob } from './model-job.js';
import { JobRun } from './job-run.js';
import { lostWithDevice } from './write-back.js';
import { checkTasks, usableDevices } from './train-setup.js';

/** `control`: requests of a running job's handle (job-control.ts: add a model, stop one by name). */
export async function train(tasks: TrainTask[], options: TrainOptions, control?: JobControl): Promise<JobResult> {
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const emit = (e: HydraEvent) => options.onEvent?.(e);
  // ---- the options, parsed once ----
  const dev = await usableDevices(parseDevices(options.devices), (message) => emit({ type: 'log', t: now(), message }));
  const budget = parseBytes(options.deviceMemory, 'deviceMemory');
  const tiers = JobTiers.create(
    {
      hostMemory: options.hostMemory,
      spillDir: options.spillDir === undefined ? '.hydra/spill' : options.spillDir,
      spillDirGiven: options.spillDir != null && !options.createSpillDir,
      devices: dev.count,
      devicesInRam: devicesInRam(dev, budget),
      weightsStreamed: options.streamWeights !== undefined,
      activations: activationMode(options.activations),
    },
    (message) => emit({ type: 'log', t: now(), message }),
  );
  const tier = tiers.host;
  const taskModels = await checkTasks(tasks);
  // Bytes known from shapes alone, against the limits, before any pilot pass runs.
  checkMemoryBudgets(
    tasks.map((t, i) => modelBytes(t.name, taskModels[i].model, t.train.B, t.train.T, stateNames(t.optimizer).length)),
    // With a disk tier, what exceeds the host cap goes to disk, and a default cap grows once the devices' needs are
    // known: the placement's preflight judges the host side.
    { device: budget, host: tiers.spillDir || !tiers.hostCapGiven ? Infinity : tier.budget },
  );
  const checkpointEvery = options.checkpointEvery ?? 0;
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 0)) throw new RangeError(`checkpointEvery: expected a whole number of steps ≥ 0, got ${checkpointEvery}`);
  if ((options.resume || checkpointEvery > 0) && !options.checkpointDir) throw new RangeError(`checkpointDir: required with ${options.resume ? 'resume' : 'checkpointEvery'}`);
  const stopping = JobEarlyStopping.create(options.earlyStopping, tasks);
  // A model whose set-up fails after others started training stops the job (as it would have before any trained).
  const setUpFailed = new AbortController();
  let setUpError: { e: unknown } | undefined;
  const signal = options.signal ? AbortSignal.any([options.signal, setUpFailed.signal]) : setUpFailed.signal;
  const c: JobContext = { dev, budget, tier, tiers, options: { ...options, signal }, policy: options.policy ?? DEFAULT_POLICY, checkpointEvery, stopping, emit, now };
  const stoppedWhilePlanning = (j: ModelJob) => {
    // Nothing has trained, nothing to checkpoint (and nothing to announce: the model never started).
    if (signal.aborted && !j.ended) j.finish('stopped', now(), `stopped before step ${j.startStep} (while the job was being set up)`);
    return j;
  };

  // ---- plan every model and place their state while the devices start: a layer that cannot fit, or a job that
  // cannot fit RAM and disk, stops the job here, before anything trains ----
  emit({ type: 'log', t: now(), message: `[${now().toFixed(1).padStart(7)}s] starting ${dev.count} ${dev.kind} device${dev.count === 1 ? '' : 's'}` });
  const devicesStarted = startDevices(dev, budget, options.shardCache !== false);
  devicesStarted.catch(() => undefined); // a failure to start is met below, after planning (no unhandled rejection meanwhile)
  let planned: PlannedJob, jobs: ModelJob[];
  try {
    planned = await planJob(tasks, taskModels, c);
    // A resumed job reads every model back first (its rung results are replayed across models); a fresh one gives
    // the first model its state and starts initialising it; the others are set up behind the running job (unless
    // overlapSetUp is false: then every model is set up first).
    if (options.resume) jobs = await loadResumed(planned, c);
    else if (options.overlapSetUp === false) {
      jobs = [];
      for (const [i, p] of planned.models.entries()) jobs.push(await loadModel(p, planned.placement, planned.placement.models[i], c));
      await Promise.all(jobs.map((j) => j.initialised));
    } else jobs = [await loadModel(planned.models[0], planned.placement, planned.placement.models[0], c)];
  } catch (e) {
    await devicesStarted.then((ds) => Promise.all(ds.map((d) => d.stop())), () => undefined);
    await tiers.close().catch(() => undefined); // scratch of models set up before the failure
    throw e;
  }
  jobs.forEach(stoppedWhilePlanning);
  const { models, placement } = planned, loaded = jobs.length;
  const later = models.slice(loaded).map((p, k) => ({
    name: p.task.name,
    load: async () => stoppedWhilePlanning(await loadModel(p, placement, placement.models[loaded + k], c)),
    failed: (e: unknown) => {
      setUpError ??= { e };
      setUpFailed.abort();
    },
  }));

  // ---- devices, then the loop (the run adds each later model to `jobs` as it joins) ----
  const devices = await devicesStarted.catch(async (e: unknown) => {
    await tiers.close().catch(() => undefined);
    throw e;
  });
  const run = new JobRun(jobs, devices, c, control, later);
  try {
    await run.run();
    if (setUpError) throw setUpError.e;
  } catch (e) {
    await tiers.close().catch(() => undefined);
    throw e;
  } finally {
    await Promise.all(devices.map((d) => d.stop()));
  }
  // Weights are read whole below: a model stopped before its first step may still have been initialising.
  await Promise.all(jobs.map((j) => j.initialised.catch(() => undefined)));
  // A model whose latest steps died with their device has only older weights in the host tier: it failed.
  for (const j of jobs) {
    const lost = j.released || j.result.status === 'failed' ? null : lostWithDevice(devices, j.name);
    if (lost) emit(j.finish('failed', now(), lost));
  }

  const makespan = now();
  // Read after the devices stopped: a device's last prefetch is dropped (and counted) when it stops.
  const prefetch: PrefetchTotals = { copiedBytes: 0, usedBytes: 0, droppedBytes: 0, failures: 0 };
  for (const d of devices) for (const k of Object.keys(prefetch) as (keyof PrefetchTotals)[]) prefetch[k] += d.prefetch[k];
  // The peak before the final weights are put in the results (parameters on disk are copied to the result's file
  // through one bounded piece at a time).
  const peakRss = vmHwm();
  try {
    for (const j of jobs) {
      // A model that failed because its disk tier did (a full disk) has no weights to give back.
      if (!j.released) await j.copyWeights(options.streamWeights, () => tiers.resultWeights()).catch((e: unknown) => {
        if (j.result.status !== 'failed') throw e;
      });
      if (!j.ended) j.result.wallSeconds = makespan;
    }
  } finally {
    await tiers.close();
  }
  const diskTier = tiers.diskStats();
  if (diskTier.highWater > 0) {
    emit({ type: 'log', t: now(), message: `tiers: host high-water ${formatBytes(tier.stats().highWater)} of ${formatBytes(tier.budget)}; disk high-water ${formatBytes(diskTier.highWater)}, ${formatBytes(diskTier.bytesRead)} read, ${formatBytes(diskTier.bytesWritten)} written${peakRss ? `; peak RSS ${formatBytes(peakRss)}` : ''}` });
  }
  const shardCache: CacheTotals = emptyCacheTotals();
  for (const d of devices) for (const k of Object.keys(shardCache) as (keyof CacheTotals)[]) shardCache[k] += d.cache[k];
  const { busy, highWater, heldHighWater, outsideRegion, bytesMoved, overlapSeconds } = run.totals;
  return {
    models: jobs.map((j) => j.result),
    makespanSeconds: makespan,
    devices: devices.map((d) => ({ id: d.id, busySeconds: busy[d.id], utilisation: makespan > 0 ? busy[d.id] / makespan : 0, highWater: highWater[d.id], heldHighWater: heldHighWater[d.id], ...(outsideRegion[d.id] !== undefined ? { outsideRegion: outsideRegion[d.id] } : {}), budget: d.budget })),
    policy: c.policy,
    // Device-resident state written back (for a checkpoint, another device, a release, the end) moved too.
    bytesMoved: bytesMoved + prefetch.copiedBytes + shardCache.writeBackBytes,
    prefetch,
    shardCache,
    locality: run.locality.totals,
    overlapSeconds,
    hostTier: tier.stats(),
    diskTier,
    ...(peakRss ? { peakRssBytes: peakRss } : {}),
  };
}

/** The process's peak resident memory (VmHWM, Linux), or undefined elsewhere. */
function vmHwm(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
