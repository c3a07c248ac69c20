/**
 * Pipeline (model parallelism, the GPipe-style baseline the paper compares against): shards are pinned to devices —
 * shard s of a model with n shards runs on device floor(s·D/n) — and one model trains at a time, in the given order.
 * There is NO micro-batching: a minibatch flows through the devices one shard at a time, so at most one device is
 * busy at any moment. That is the unpipelined baseline; GPipe proper would split each minibatch into micro-batches to
 * keep several stages busy, which changes the optimiser's semantics only through batch statistics (none in GPT-2).
 */
import type { ModelState } from '../model-state.js';
import type { Lookahead, Policy } from '../policy.js';
import { grown } from './grow.js';
import type { TaskRef } from '../types.js';

export function pipelineDevice(shard: number, shards: number, devices: number): number {
  return Math.floor((shard * devices) / shards);
}

export class Pipeline implements Policy {
  readonly name = 'pipeline' as const;
  private models: readonly ModelState[] = [];
  private devices = 1;
  private isReady!: Uint8Array;
  private isFinished!: Uint8Array;
  /** The model currently training. */
  private current = 0;

  attach(models: readonly ModelState[], devices: number): void {
    this.models = models;
    this.devices = devices;
    this.isReady = new Uint8Array(models.length);
    this.isFinished = new Uint8Array(models.length);
  }

  ready(m: ModelState): void {
    this.isReady[m.index] = 1;
  }

  withdraw(m: ModelState): void {
    this.isReady[m.index] = 0;
  }

  finished(m: ModelState): void {
    this.isReady[m.index] = 0;
    this.isFinished[m.index] = 1;
    while (this.current < this.models.length && this.isFinished[this.current]) this.current++;
  }

  /** One model at a time, in order: the models before a held one have all ended, so its decision is immediate. */
  held(): void {}

  added(m: ModelState): void {
    this.isReady = grown(this.isReady, m.index + 1, 0);
    this.isFinished = grown(this.isFinished, m.index + 1, 0);
  }

  pick(device: number): ModelState | null {
    const m = this.models[this.current];
    if (!m || !this.isReady[m.index]) return null;
    if (pipelineDevice(m.next().shard, m.n, this.devices) !== device) return null;
    this.isReady[m.index] = 0;
    return m;
  }

  /** The next task of the running model (or, past its end, of the next model) that is pinned to this device. */
  predict(look: Lookahead): TaskRef | null {
    const onThisDevice = (t: TaskRef) => pipelineDevice(t.shard, this.models[t.model].n, this.devices) === look.device;
    const m = this.models[this.current];
    if (!m) return null;
    const here = m.findAhead(onThisDevice);
    if (here) return here;
    for (let i = this.current + 1; i < this.models.length; i++) {
      if (this.isFinished[i]) continue;
      return this.models[i].findAhead(onThisDevice);
    }
    return null;
  }
}
