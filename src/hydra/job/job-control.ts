/**
 * A job that changes while it runs: `startTraining(tasks, options)` returns a handle whose `add(task)` brings a model
 * into the running job (planned, given its host-tier state and scheduled beside the others) and whose `stop(name)`
 * ends one model at its next minibatch boundary (checkpointed, its host-tier state released). The others are not
 * disturbed: a model's arithmetic never depends on which other models share the devices, so they end bitwise as
 * they would have.
 */
import type { JobResult, TrainOptions, TrainTask } from '../api.js';
import { train } from './train.js';

export interface TrainingJob {
  /** Add a model; resolves once it is scheduled, rejects if it cannot be (bad task, does not fit, job over). */
  add(task: TrainTask): Promise<void>;
  /** Stop one model by name at its next minibatch boundary (status 'stopped'). Unknown names are errors. */
  stop(name: string): void;
  readonly result: Promise<JobResult>;
}

interface PendingAdd {
  task: TrainTask;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** The channel between a job's handle and its event loop (train() drains it between tasks). */
export class JobControl {
  private adds: PendingAdd[] = [];
  private stops: string[] = [];
  private wake: (() => void) | null = null;
  private over = false;
  /** Names of the job's models (kept by train()), to refuse unknown names at once. */
  readonly names = new Set<string>();

  add(task: TrainTask): Promise<void> {
    if (this.over) return Promise.reject(new Error(`add('${task?.name}'): the job has ended`));
    return new Promise<void>((resolve, reject) => {
      this.adds.push({ task, resolve, reject });
      this.poke();
    });
  }

  stop(name: string): void {
    if (this.over) throw new Error(`stop('${name}'): the job has ended`);
    if (!this.names.has(name)) throw new RangeError(`stop: no model named '${name}' in this job (models: ${[...this.names].slice(0, 8).join(', ')}${this.names.size > 8 ? ', …' : ''})`);
    this.stops.push(name);
    this.poke();
  }

  get pending(): boolean {
    return this.adds.length > 0 || this.stops.length > 0;
  }

  takeAdds(): PendingAdd[] {
    return this.adds.splice(0);
  }

  takeStops(): string[] {
    return this.stops.splice(0);
  }

  /** Resolves at the next add or stop (the event loop races it against the devices). */
  wakeup(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The job is over: later requests are refused, and adds still queued are rejected. */
  end(): void {
    this.over = true;
    for (const a of this.takeAdds()) a.reject(new Error(`add('${a.task.name}'): the job ended before the model could start`));
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

export function startTraining(tasks: TrainTask[], options: TrainOptions): TrainingJob {
  const control = new JobControl();
  const result = train(tasks, options, control).finally(() => control.end());
  return { add: (t) => control.add(t), stop: (n) => control.stop(n), result };
}
