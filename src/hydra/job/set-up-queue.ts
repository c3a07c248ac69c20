/**
 * Models set up behind a running job — train()'s later models, and models added through the job's handle — one at a
 * time, in order, while the devices train the others. One at a time keeps the host tier's accounting exact: a model
 * is given its state only after every model before it has its own, so an added model is placed against what the job
 * really holds, and train()'s models fill exactly what the placement (and its preflight) counted. A model that is
 * ready waits in `ready` until the job's loop takes it in between tasks.
 */
import type { ModelJob } from './model-job.js';

export interface QueuedSetUp {
  /** Set the model up (its index in the job is given by the queue's order). */
  load: (index: number) => Promise<ModelJob>;
  /** It joined the running job (registered and scheduled). */
  joined: () => void;
  /** Its set-up failed, or the job ended before it could start. */
  failed: (e: unknown) => void;
}

export class SetUpQueue {
  private readonly queue: QueuedSetUp[] = [];
  private readonly ready: { j: ModelJob; joined: () => void }[] = [];
  private busy = false;
  private started = false;
  private wake: (() => void) | null = null;

  /** `nextIndex`: the job index the first queued model takes (the number of models the job already has). */
  constructor(private nextIndex: number) {}

  push(s: QueuedSetUp): void {
    this.queue.push(s);
    if (this.started) void this.pump();
  }

  /** Begin setting up (train() starts once its first tasks are on the devices, so they never wait for this). */
  start(): void {
    this.started = true;
    void this.pump();
  }

  /** Models still to be set up, being set up, or ready but not yet taken in. */
  get pending(): boolean {
    return this.queue.length > 0 || this.busy || this.ready.length > 0;
  }

  /** The models set up since the last call, in order. */
  take(): { j: ModelJob; joined: () => void }[] {
    return this.ready.splice(0);
  }

  /** Resolves when a model is ready or a set-up ended (the job's loop races it against the devices). */
  wakeup(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Set-ups not yet begun fail with `reason` (the job is stopping); one in progress ends as it would. */
  cancel(reason: (s: QueuedSetUp) => unknown): void {
    for (const s of this.queue.splice(0)) s.failed(reason(s));
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    for (let s = this.queue.shift(); s; s = this.queue.shift()) {
      try {
        const j = await s.load(this.nextIndex);
        this.nextIndex++;
        this.ready.push({ j, joined: s.joined });
      } catch (e) {
        s.failed(e);
      }
      this.poke();
    }
    this.busy = false;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
