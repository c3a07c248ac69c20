/**
 * How a model's training ends inside a running job, and its checkpoints: finished (with a finished checkpoint, so
 * that resuming never retrains it), failed or diverged, stopped by the job's signal or its segment end, stopped early
 * at a rung, or stopped by name. A model stopped early or by name gives its host-tier state back at once (its weights
 * go to its result first); the others keep theirs to the job's end. Checkpoints are taken only at minibatch
 * boundaries and written in the background.
 */
import type { ModelStatus } from '../api.js';
import type { DeviceHandle } from '../run/device-pool.js';
import type { Scheduler } from '../scheduler/index.js';
import { describeStop, type RungDecision } from '../scheduler/early-stopping/index.js';
import { releaseHostState } from '../tier/host-state.js';
import { CheckpointWriter, snapshotModel } from './job-checkpoint.js';
import type { JobContext } from './job-plan.js';
import type { ModelJob } from './model-job.js';
import { heldElsewhere, writeBack } from './write-back.js';

export class ModelEndings {
  private readonly checkpoints: CheckpointWriter;
  private sched!: Scheduler;
  /** Releases of models with state on disk still reading it back (or with state on a device, written back). */
  private readonly releasing: Promise<void>[] = [];
  /** Releases not yet settled: the job's loop waits for them, so a request made as a room is let go is still served. */
  private inFlight = 0;
  /** Checkpoints waiting for a device to write the model's state back before they are snapshotted. */
  private readonly writingBack: Promise<void>[] = [];

  constructor(
    private readonly jobs: readonly ModelJob[],
    private readonly devices: readonly DeviceHandle[],
    private readonly c: JobContext,
  ) {
    this.checkpoints = new CheckpointWriter(c.emit, c.now);
  }

  /** The job's scheduler, once there is one (a job whose models are all over before it starts has none). */
  start(sched: Scheduler): void {
    this.sched = sched;
  }

  /**
   * Checkpoint a model at a boundary, written in the background. A model that trains on is copied now
   * (synchronously); a stopped or finished one (`final`) is written straight from the host tier.
   */
  checkpoint(j: ModelJob, step: number, finished: boolean, final = finished): Promise<void> | undefined {
    if (!j.checkpoint) return undefined;
    j.checkpointedAt = step;
    const progress = j.progress(finished);
    const write = (): Promise<void> => {
      const snapshot = snapshotModel(j.rt, j.views, j.disk, step, progress, !final);
      return this.checkpoints.write(j.name, j.checkpoint!, snapshot, j.arch, j.rt.recipe, (written) => (j.result.checkpoint = written));
    };
    if (heldElsewhere(this.devices, j.name)) {
      // State stepped on a device comes back to the host tier first. The model's next task (a periodic checkpoint's
      // waits for the whole write), its release and the job's close wait for it.
      const written = writeBack(this.devices, j.name).then(write);
      // A device that died with them: the checkpoint is not written and the model fails (one still training fails at
      // its next task, which waits for this); the job goes on.
      this.writingBack.push(written.catch((e: unknown) => this.lost(j, e)));
      j.busyUntil = written.then(() => undefined, () => undefined);
      return written;
    }
    const written = write();
    // State on disk is streamed into the file as it is written: the model's next task (or release) waits for it.
    if (j.disk) j.busyUntil = written;
    return written;
  }

  /** End a model with a status. */
  finish(j: ModelJob, status: ModelStatus, reason?: string): void {
    this.c.emit(j.finish(status, this.c.now(), reason));
    // Models waiting at a rung for this one are judged without it. A job stopped by its signal does not count:
    // its resumed run must take the decisions the uninterrupted job would have.
    if (this.c.stopping && status !== 'stopped' && status !== 'stopped-early') this.apply(this.c.stopping.ended(j.index));
  }

  /** All its steps and evaluations ran. A checkpointed model ends with a finished checkpoint. */
  done(j: ModelJob): void {
    this.finish(j, 'done');
    if (this.c.checkpointEvery > 0 || j.checkpointedAt >= 0) this.checkpoint(j, j.result.steps, true);
  }

  /** A model's evaluation completed: at a rung, early stopping decides who goes on. */
  evaluated(j: ModelJob, loss: number): void {
    const { stopping } = this.c;
    if (stopping?.isRung(j.index, j.result.steps)) this.apply(stopping.atRung(j.index, j.result.steps, loss));
  }

  /** A model stopped by name, at a boundary: checkpointed, its state released; rungs waiting for it go on. */
  stopByName(j: ModelJob): void {
    if (j.checkpoint) this.checkpoint(j, j.result.steps, false);
    this.sched.stop(j.name, 'stopped by name', this.c.now());
    this.finish(j, 'stopped', `stopped by name at step ${j.result.steps}`);
    this.release(j);
    if (this.c.stopping) this.apply(this.c.stopping.ended(j.index));
  }

  /** The job was stopped while models wait at a rung (at a boundary): they stop as they are. Returns whether any did. */
  stopHeld(active: readonly ModelJob[]): boolean {
    const held = active.filter((j) => this.sched.modelProgress(j.name).status === 'held');
    for (const j of held) {
      this.checkpoint(j, j.result.steps, false, true);
      this.sched.stop(j.name, 'stopped', this.c.now());
      this.finish(j, 'stopped', `stopped at step ${j.result.steps} (waiting at an early-stopping rung)`);
    }
    return held.length > 0;
  }

  /**
   * After the loop: a stopped job leaves every finished model checkpointed too, so that the resumed job only trains
   * what is left; every write is waited for, and each stopped model's result says whether its checkpoint is on disk.
   */
  async close(active: readonly ModelJob[]): Promise<void> {
    if (this.c.options.signal?.aborted) for (const j of active) if (j.result.status === 'done' && j.checkpointedAt < j.result.steps) this.checkpoint(j, j.result.steps, true);
    await Promise.all(this.writingBack);
    await this.checkpoints.flush();
    await Promise.all(this.releasing);
    for (const j of this.jobs) {
      if (j.result.status !== 'stopped' || !j.checkpoint || j.checkpointedAt < 0) continue;
      const error = this.checkpoints.error(j.name);
      j.result.reason += error ? `; ${error} — it cannot be resumed from this stop` : `; checkpoint ${j.checkpoint}`;
    }
  }

  /** Whether a model's state is still being let go (read back from disk, written back from a device). */
  get releasesInFlight(): boolean {
    return this.inFlight > 0;
  }

  /** Resolves when the releases in flight now have settled (their errors are reported by close()). */
  releasesSettled(): Promise<void> {
    return Promise.allSettled(this.releasing).then(() => undefined);
  }

  private track(release: Promise<void>): void {
    this.inFlight++;
    this.releasing.push(release.finally(() => this.inFlight--));
  }

  /** Early-stopping decisions: a promoted model trains on to its next horizon; a stopped one ends here. */
  private apply(decisions: RungDecision[]): void {
    const { emit, now } = this.c;
    for (const d of decisions) {
      const j = this.jobs[d.model];
      emit({ type: 'rung', t: now(), model: j.name, step: d.step, action: d.action, horizon: d.horizon, reason: d.reason });
      if (d.action === 'continue') {
        j.horizon = d.horizon;
        this.sched.extend(j.name, d.horizon - j.startStep, now());
        continue;
      }
      this.sched.stop(j.name, 'stopped early', now());
      j.result.stoppedEarly = d.reason;
      this.finish(j, 'stopped-early', describeStop(d.reason!));
      // Its curve stays in the result; its state is checkpointed (a copy: the host tier is released next).
      if (j.checkpoint) this.checkpoint(j, j.result.steps, true, false);
      this.release(j);
    }
  }

  /**
   * Free a model's state: its final weights go to the result first; the devices forget the model. In RAM this all
   * happens now; state on disk is read back in the background (after any snapshot still being read), then let go.
   */
  private release(j: ModelJob): void {
    if (heldElsewhere(this.devices, j.name)) {
      // Its latest steps are on a device: written back (and any snapshot taken) before its weights are read.
      j.released = true;
      this.track(writeBack(this.devices, j.name).then(() => j.busyUntil, (e: unknown) => this.lost(j, e)).then(() => this.releaseNow(j)));
      return;
    }
    this.releaseNow(j);
  }

  /**
   * A model that already ended lost its latest steps (its device died before writing them back): it ends failed —
   * its checkpoint and weights would be older than its result says. One still training fails at its next task.
   */
  private lost(j: ModelJob, e: unknown): void {
    if (!j.ended || j.result.status === 'failed') return;
    this.c.emit(j.finish('failed', this.c.now(), e instanceof Error ? e.message : String(e)));
  }

  private releaseNow(j: ModelJob): void {
    const { tier, tiers, emit, now } = this.c;
    const weights = j.copyWeights(this.c.options.streamWeights, () => tiers.resultWeights());
    for (const d of this.devices) d.send({ type: 'unregister', modelId: j.name });
    j.released = true;
    const free = () => {
      const before = tier.stats().inUse;
      // Its result holds its parameter arrays (views, not copies) unless they were streamed: they stay in the tier's accounts.
      releaseHostState(j.result.weightsStreamed ? j.buffers : { ...j.buffers, params: {} }, tier);
      emit({ type: 'host-release', t: now(), model: j.name, bytes: before - tier.stats().inUse, inUse: tier.stats().inUse });
    };
    if (!j.disk) return free();
    const disk = j.disk;
    this.track(weights.then(() => tiers.detach(disk)).then(free));
  }
}
