/**
 * The job's loop: the scheduler hands an idle device the next shard task of some model, the device runs it (with the
 * next task's parameters prefetched beside it when that is safe and fits), and what the task did goes back to its
 * model. Models fail alone: a diverged, failing or data-broken model is marked and dropped, the rest go on. How models
 * end — stopped, stopped early, by name, finished — and their checkpoints are model-endings.ts; requests of a running
 * job's handle (add a model, stop one) are served between tasks. Models still being set up (train()'s later ones,
 * added ones) are set up behind the running tasks (set-up-queue.ts) and join between tasks as each becomes ready; a
 * model whose first shards are still being initialised runs each task once its own shard is in place.
 */
import type { DeviceHandle } from '../run/device-pool.js';
import { prefetchIsSafe } from '../run/prefetch-safety.js';
import { clipScale } from '../../optim/clip.js';
import type { Scheduler } from '../scheduler/index.js';
import type { TaskRef } from '../scheduler/types.js';
import type { PrefetchRefusal } from '../api.js';
import { fsSafeNames } from '../../report/names.js';
import type { JobControl } from './job-control.js';
import { JobEarlyStopping } from './job-early-stopping.js';
import { loadModel, planJob, type JobContext } from './job-plan.js';
import { createJobScheduler, schedSpec, type SchedTask } from './job-scheduler.js';
import { ModelEndings } from './model-endings.js';
import { ModelJob } from './model-job.js';
import { checkTasks } from './train-setup.js';
import { JobLocality } from './job-locality.js';
import { SetUpQueue } from './set-up-queue.js';
import { heldElsewhere, writeBack } from './write-back.js';

/** What the devices did over the job. */
export interface DeviceTotals {
  busy: number[];
  highWater: number[];
  /** Per device, where its backend pools buffers: the most device bytes held at once (live + pooled). */
  heldHighWater: (number | undefined)[];
  /** Per device with a memory region (MemoryStats.outsideRegion): buffers it had no room for, over the job. */
  outsideRegion: (number | undefined)[];
  bytesMoved: number;
  overlapSeconds: number;
}

type Prefetch = { modelId: string; shard: number; paramsVersion: number } | null;

export class JobRun {
  readonly totals: DeviceTotals;
  /** Where shard parameters are (device shard caches, prefetches) and what copies cost: the scheduler weighs it. */
  readonly locality: JobLocality;
  private readonly byName: Map<string, ModelJob>;
  private readonly running = new Map<number, Promise<void>>();
  /** The models the scheduler runs (not those resumed as finished or stopped while planning). */
  private readonly active: ModelJob[];
  private readonly endings: ModelEndings;
  /** Models set up behind the running tasks; they join between tasks. */
  private readonly setUp: SetUpQueue;
  /** Every model's name, in the job's order, those still being set up included (added names are checked against it). */
  private readonly names: string[];

  /** `later`: train()'s models still to be set up (in order, behind the first), each joining when ready. */
  constructor(
    private readonly jobs: ModelJob[],
    private readonly devices: DeviceHandle[],
    private readonly c: JobContext,
    private readonly control?: JobControl,
    later: { name: string; load: (index: number) => Promise<ModelJob>; failed: (e: unknown) => void }[] = [],
  ) {
    this.totals = { busy: devices.map(() => 0), highWater: devices.map(() => 0), heldHighWater: devices.map(() => undefined), outsideRegion: devices.map(() => undefined), bytesMoved: 0, overlapSeconds: 0 };
    this.byName = new Map(jobs.map((j) => [j.name, j]));
    this.active = jobs.filter((j) => !j.ended);
    this.endings = new ModelEndings(jobs, devices, c);
    this.locality = new JobLocality(devices.length, c.options.prefetch !== false);
    for (const j of jobs) control?.names.add(j.name);
    this.names = [...jobs.map((j) => j.name), ...later.map((l) => l.name)];
    this.setUp = new SetUpQueue(jobs.length);
    // A failed set-up of train()'s own stops the job (train() rejects with it): nothing queued behind it starts.
    const failed = (l: (typeof later)[number]) => (e: unknown) => {
      l.failed(e);
      this.setUp.cancel(() => new Error(`the job stopped: the set-up of '${l.name}' failed (${message(e)})`));
    };
    for (const l of later) this.setUp.push({ load: l.load, joined: () => undefined, failed: failed(l) });
  }

  /** Register every model on every device (their state is shared memory, nothing is copied), then run to the end. */
  async run(): Promise<void> {
    for (const j of this.jobs) this.register(j);
    if (this.active.length > 0) {
      this.locality.order.push(...this.active);
      const sched = createJobScheduler(this.active.map((j) => j.schedulerInput()), this.devices.length, this.c.policy, this.c.options.policySeed ?? 0, this.locality);
      this.endings.start(sched);
      await this.loop(sched);
    } else {
      // Nothing to train (every model over before it started): models still being set up are over as they join.
      this.setUp.start();
      while (this.setUp.pending) {
        this.takeJoins(null);
        if (this.setUp.pending) await this.setUp.wakeup();
      }
    }
    await this.endings.close(this.active);
  }

  /** Take in the models set up since the last look: registered on the devices, scheduled (unless already over). */
  private takeJoins(sched: Scheduler | null): void {
    for (const { j, joined } of this.setUp.take()) {
      this.jobs.push(j);
      this.byName.set(j.name, j);
      this.control?.names.add(j.name);
      this.register(j);
      if (!j.ended) {
        this.active.push(j);
        this.locality.order.push(j);
        sched!.add(schedSpec(j.schedulerInput()), this.c.now());
      }
      joined();
    }
  }

  /** Offer work to every idle device, then wait for any device to finish (or for a request of the job's handle). */
  private async loop(sched: Scheduler): Promise<void> {
    const { control } = this;
    while (!sched.isDone() || this.running.size > 0 || this.setUp.pending || control?.pending || this.endings.releasesInFlight) {
      this.takeJoins(sched);
      for (const d of this.devices) {
        // A task may end without running (its model stopped or its batch failed): then offer the device another.
        // A device whose worker died is offered nothing; its in-flight task failed its model alone.
        while (!this.running.has(d.id) && !d.dead) {
          const st = sched.assign(d.id, this.c.now());
          if (!st) break;
          const j = this.byName.get(st.modelId)!;
          // A model that ends at this boundary is checkpointed or copied whole: its initialisation must be complete.
          if (ModelJob.atBoundary(st) && !j.fullyInitialised && this.endsAtBoundary(j, st)) await j.initialised.catch(() => undefined);
          // A model that ends or is checkpointed at this boundary has its last step whole first (streamed from disk
          // in the background); a step whose updates failed to land does not count, and the model fails.
          if (ModelJob.atBoundary(st) && j.disk?.landing && (this.endsAtBoundary(j, st) || this.checkpointDue(j, j.stepOf(st)))) {
            const failed = await j.disk.landing.then(() => null, (e: unknown) => e);
            if (failed) {
              this.drop(sched, j, st, 'task failed', 'failed', `the optimizer step before step ${j.stepOf(st)} failed: ${message(failed)}`);
              continue;
            }
          }
          this.dispatch(sched, d, st);
        }
      }
      // The devices have work: the models still to be set up are set up behind it.
      this.setUp.start();
      if (this.running.size === 0 && !control?.pending) {
        if (sched.isDone() && !this.setUp.pending) {
          // A model's state may still be let go: a request made then (an add into the room it leaves) is served.
          if (!this.endings.releasesInFlight) break;
          await Promise.race([this.endings.releasesSettled(), ...(control ? [control.wakeup()] : [])]);
          continue;
        }
        // Stopped while models wait at a rung: they are at a boundary; checkpoint them as they are.
        if (this.c.options.signal?.aborted && this.endings.stopHeld(this.active)) continue;
        if (this.devices.every((d) => d.dead)) {
          // Nothing can run any more: the models left end failed (their last checkpoints stay), the job reports them.
          const why = this.devices.map((d) => d.dead!.message).join('; ');
          const left = this.active.filter((x) => !x.ended);
          if (left.length === 0 && !this.setUp.pending) throw new Error(`every device has died: ${why}`);
          for (const j of left) {
            sched.fail(j.name, 'no device');
            this.endings.finish(j, 'failed', `no device left to run it: ${why}`);
          }
          if (!this.setUp.pending) continue;
        } else if (!this.setUp.pending) throw new Error('scheduler stalled: no device has work but models remain (scheduler bug)');
      }
      if (control?.pending) this.serveControl(sched, control);
      else {
        const wake: Promise<void>[] = [...this.running.values()];
        if (control) wake.push(control.wakeup());
        if (this.setUp.pending) wake.push(this.setUp.wakeup());
        await Promise.race(wake);
      }
    }
  }

  /** Whether the model ends at this boundary instead of running the task (the job stopped, its segment ended, or by name). */
  private endsAtBoundary(j: ModelJob, st: SchedTask): boolean {
    const step = j.stepOf(st);
    return this.c.options.signal?.aborted === true || (j.task.stopAtStep !== undefined && step >= j.task.stopAtStep) || j.stopRequested;
  }

  /** A periodic checkpoint is taken at this step boundary. */
  private checkpointDue(j: ModelJob, step: number): boolean {
    const every = this.c.checkpointEvery;
    return every > 0 && step > j.checkpointedAt && step % every === 0 && step > 0;
  }

  private dispatch(sched: Scheduler, d: DeviceHandle, st: SchedTask): void {
    const { emit, now, options } = this.c;
    const j = this.byName.get(st.modelId)!;
    const step = j.stepOf(st);
    let checkpointWritten: Promise<void> | undefined;
    if (ModelJob.atBoundary(st)) {
      const segmentEnd = j.task.stopAtStep !== undefined && step >= j.task.stopAtStep;
      if (options.signal?.aborted || segmentEnd) {
        this.endings.checkpoint(j, step, false, true);
        this.drop(sched, j, st, 'stopped', 'stopped', segmentEnd ? `stopped at step ${step} (stopAtStep)` : `stopped before step ${step}`);
        return;
      }
      if (j.stopRequested) {
        sched.complete(st, 0, now());
        this.endings.stopByName(j);
        return;
      }
      // The step after a periodic checkpoint starts once the checkpoint is on disk (its device waits for the write),
      // so a crash at any moment loses at most checkpointEvery steps of the model.
      if (this.checkpointDue(j, step)) checkpointWritten = this.endings.checkpoint(j, step, false);
    }
    try {
      j.prepareInputs(st);
    } catch (e) {
      // A model whose data fails is dropped alone; the device is offered other work at once.
      this.drop(sched, j, st, 'data error', 'failed', `reading the batch for step ${step} failed: ${message(e)}`);
      return;
    }
    j.inFlight = st;
    const hint = sched.peek(d.id);
    const { prefetch, refused } = this.prefetchFor(hint, d, j);
    this.locality.started(d.id, st, hint, prefetch, refused);
    emit({ type: 'task-start', t: now(), device: d.id, model: j.name, kind: st.kind, shard: st.shard, step });
    let slot: number | undefined;
    let acts: [number, number][] | undefined;
    const runTask = async () => {
      // A model trains while its later shards are still being initialised: a task waits for its own.
      await j.shardInitialising(st.shard);
      if (j.disk) {
        // The shard's disk-tier steps have landed and a shard on disk is staged in a host slot.
        await j.busyUntil;
        slot = await j.disk.load(st.shard);
        // Its boundary activations on disk: the input read into an activation slot, the output given one (and, with
        // prefetch on, a backward's successor's input read ahead).
        acts = await j.disk.boundaries(st.kind, st.shard, this.c.options.prefetch !== false);
      }
      // The shard's only current copy may be on another device (stepped there): it comes back to the host tier first.
      await writeBack(this.devices, j.name, st.shard, d.id);
      // While this task runs, the device's next task's shard is read from disk (and copied to the device once in
      // RAM), and so is this model's next shard (its next task may run on another device). Neither with prefetch off:
      // then every shard is read from disk when its task comes (the no-prefetch baseline of bench:offload).
      const ahead = this.readAhead(hint);
      if (this.c.options.prefetch !== false) j.disk?.prefetch(nextShard(st.kind, st.shard, j.plan.shards.length));
      const report = d.run(j.name, { kind: st.kind, shard: st.shard, step, ...(slot !== undefined ? { slot } : {}), ...(acts ? { acts } : {}) }, j.paramsVersion[st.shard], prefetch);
      if (ahead) void this.stageAhead(ahead, d, j, report);
      return report;
    };
    const t = this.totals;
    const p = (checkpointWritten ? checkpointWritten.then(runTask) : runTask())
      .then(async (rep) => {
        const g = rep.outcome.gradNorm;
        if (j.disk) {
          j.disk.after(st.kind, st.shard, slot, step, g === undefined ? undefined : clipScale(g, j.rt.recipe.clipNorm));
          // The step streams from disk while the next one starts (disk-state.ts `land`).
          if (g !== undefined) j.disk.land(step);
        }
        j.taskEnded(st, true);
        this.locality.reported(d.id, rep);
        t.busy[d.id] += rep.seconds;
        t.highWater[d.id] = Math.max(t.highWater[d.id], rep.highWater);
        if (rep.heldHighWater !== undefined) t.heldHighWater[d.id] = Math.max(t.heldHighWater[d.id] ?? 0, rep.heldHighWater);
        // A device's count is cumulative: its latest report holds it.
        if (rep.outsideRegion !== undefined) t.outsideRegion[d.id] = Math.max(t.outsideRegion[d.id] ?? 0, rep.outsideRegion);
        t.bytesMoved += rep.outcome.bytesIn + rep.outcome.bytesOut;
        t.overlapSeconds += rep.overlapSeconds;
        j.result.deviceSeconds += rep.seconds;
        emit({
          type: 'task-end', t: now(), device: d.id, model: j.name, kind: st.kind, shard: st.shard, step,
          computeSeconds: rep.seconds, bytesIn: rep.outcome.bytesIn, bytesOut: rep.outcome.bytesOut,
          prefetchedBytes: rep.outcome.prefetchedBytes, overlapSeconds: rep.overlapSeconds, timing: rep.timing,
        });
        sched.complete(st, rep.seconds, now());
        const effects = j.afterTask(st, rep.outcome, now());
        for (const e of effects.events) emit(e);
        if (effects.diverged) {
          sched.fail(j.name, 'diverged');
          this.endings.finish(j, 'diverged', effects.diverged);
          return;
        }
        if (effects.evalLoss !== undefined) this.endings.evaluated(j, effects.evalLoss);
        if (sched.modelDone(j.name) && j.result.status === 'done' && !j.ended) {
          // Its last step is whole before the model is done; one whose updates failed to land does not count.
          const failed = j.disk?.landing ? await j.disk.landing.then(() => null, (e: unknown) => e) : null;
          if (!failed) return this.endings.done(j);
          j.result.steps = Math.min(j.result.steps, j.disk!.landedSteps);
          this.endings.finish(j, 'failed', `the optimizer step of step ${step} failed: ${message(failed)}`);
        }
      })
      .catch((e: unknown) => {
        j.taskEnded(st, false);
        this.drop(sched, j, st, 'task failed', 'failed', `task ${st.kind}${st.shard} of step ${step} failed on device ${d.id}: ${message(e)}`);
      })
      .finally(() => this.running.delete(d.id));
    this.running.set(d.id, p);
  }

  /**
   * The task the scheduler will give this device next, prefetched beside the running one when no step of its model
   * can land in between and its parameters fit the reserve the running task's plan left (its own model's largest
   * shard parameters, not any model's).
   */
  private prefetchFor(hint: TaskRef | null, d: DeviceHandle, running: ModelJob): { prefetch: Prefetch; refused: PrefetchRefusal | null } {
    const no = (refused: PrefetchRefusal) => ({ prefetch: null, refused });
    const next = hint ? this.byName.get(hint.modelId) : undefined;
    if (!hint || !next) return { prefetch: null, refused: null };
    if (this.c.options.prefetch === false) return no('off');
    if (!prefetchIsSafe(next.rt, next.inFlight, hint)) return no('unsafe');
    if (next.shardInitialising(hint.shard)) return no('initialising'); // its parameters are not all in place yet
    // A shard staged from disk is copied by its own task; one whose disk-tier step still runs would be stale.
    if (next.disk && (next.disk.staged(hint.shard) || next.disk.stepping(hint.shard))) return no('disk');
    if (next.plan.shards[hint.shard].paramBytes > running.plan.reserve) return no('reserve');
    // The host tier's copy is stale while another device holds the current one.
    if (heldElsewhere(this.devices, hint.modelId, hint.shard, d.id)) return no('held-elsewhere');
    return { prefetch: { modelId: hint.modelId, shard: hint.shard, paramsVersion: next.paramsVersion[hint.shard] }, refused: null };
  }

  /**
   * Two-level prefetch, first level: the shard of the task the scheduler will give this device next (any model's),
   * when it is staged from disk, is read disk → host into a pinned slot while this task runs. Not when the running
   * task of its model would step it (the read would be stale) or it is still being initialised, nor with prefetch off.
   */
  private readAhead(hint: TaskRef | null): { next: ModelJob; shard: number; version: number; slot: Promise<number | undefined> } | null {
    const next = hint ? this.byName.get(hint.modelId) : undefined;
    if (!hint || this.c.options.prefetch === false || !next?.disk || next.ended || !next.disk.staged(hint.shard) || next.disk.stepping(hint.shard)) return null;
    if (!prefetchIsSafe(next.rt, next.inFlight, hint) || next.shardInitialising(hint.shard)) return null;
    return { next, shard: hint.shard, version: next.paramsVersion[hint.shard], slot: next.disk.readAhead(hint.shard) };
  }

  /**
   * Second level: once the shard is in its slot, the device copies it host → device beside the running task (if
   * that task still runs, the shard's parameters were not stepped meanwhile and they fit the running plan's reserve);
   * the slot is unpinned when the copies have landed.
   */
  private async stageAhead(a: NonNullable<ReturnType<JobRun['readAhead']>>, d: DeviceHandle, running: ModelJob, report: Promise<unknown>): Promise<void> {
    let done = false;
    const over = () => void (done = true);
    void report.then(over, over);
    const slot = await a.slot.catch(() => undefined);
    if (slot === undefined) return;
    let uploaded = 0;
    try {
      const fits = a.next.plan.shards[a.shard].paramBytes <= running.plan.reserve;
      if (!done && fits && this.c.options.prefetch !== false && a.next.paramsVersion[a.shard] === a.version && !a.next.ended) {
        uploaded = await d.stage(a.next.name, a.shard, a.version, slot);
      }
    } catch {
      // The device died: its task fails on its own; the slot is only a cache.
    } finally {
      a.next.disk!.unpin(slot, uploaded);
    }
  }

  /** End a model whose task did not run (or failed): the scheduler drops it, its result says why. */
  private drop(sched: Scheduler, j: ModelJob, st: SchedTask, why: string, status: 'stopped' | 'failed', reason: string): void {
    // A step whose disk-tier updates did not land does not count.
    if (status === 'failed' && j.disk && j.disk.landedSteps >= 0) j.result.steps = Math.min(j.result.steps, j.disk.landedSteps);
    sched.complete(st, 0, this.c.now());
    sched.fail(j.name, why);
    this.endings.finish(j, status, reason);
  }

  private register(j: ModelJob): void {
    // Device-resident optimizer state: not for a model with state on the disk tier (its steps are the disk tier's).
    const room = { peaks: j.plan.shards.map((s) => Math.max(s.peakBytes.forward, s.peakBytes.train)), reserve: j.plan.reserve };
    const deviceState = !j.disk && this.c.options.shardCache !== false && this.c.options.deviceState !== false;
    for (const d of this.devices) d.send({ type: 'register', modelId: j.name, arch: j.arch, shards: j.plan.shards, recipe: j.rt.recipe, B: j.rt.B, T: j.rt.T, buffers: j.buffers, room, deviceState });
  }

  /**
   * Requests of the job's handle: named models stop; new ones are checked now and set up behind the running tasks
   * (after any model still being set up), joining when ready — add() resolves then.
   */
  private serveControl(sched: Scheduler, control: JobControl): void {
    for (const name of control.takeStops()) {
      const j = this.byName.get(name)!;
      if (j.ended || j.stopRequested) continue; // already over, or already asked
      j.stopRequested = true;
      if (sched.modelProgress(name).status === 'held') this.endings.stopByName(j); // at a boundary now
    }
    for (const a of control.takeAdds()) {
      try {
        if (this.names.includes(a.task?.name)) throw new RangeError(`add: a model named '${a.task.name}' is already in this job`);
        if (this.c.stopping) JobEarlyStopping.check(a.task);
      } catch (e) {
        a.reject(e);
        continue;
      }
      this.names.push(a.task.name);
      const safeName = fsSafeNames(this.names).get(a.task.name)!;
      this.setUp.push({
        load: async (index) => {
          const [taskModel] = await checkTasks([a.task]);
          const { models: [p], placement } = await planJob([a.task], [taskModel], this.c, index, new Map([[a.task.name, safeName]]));
          return loadModel(p, placement, placement.models[0], this.c);
        },
        joined: () => {
          this.c.emit({ type: 'model-added', t: this.c.now(), model: a.task.name });
          a.resolve();
        },
        failed: (e) => {
          this.names.splice(this.names.indexOf(a.task.name), 1);
          a.reject(e);
        },
      });
    }
  }
}

/** The shard a model's next task most likely runs (the disk tier reads it ahead): forward up, backward down. */
function nextShard(kind: SchedTask['kind'], shard: number, n: number): number {
  if (kind === 'F' || kind === 'E') return shard + 1 < n ? shard + 1 : 0;
  if (kind === 'FL') return Math.max(0, n - 2);
  return Math.max(0, shard - 1);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
