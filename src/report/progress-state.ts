/**
 * What the progress display knows about each model, folded from the job's events: step, last loss, status, ETA.
 * Shared by the live bars (TTY) and the plain periodic lines (CI logs) so both say the same thing.
 */
import type { HydraEvent, ModelStatus } from '../hydra/api.js';
import { formatLoss, formatSeconds } from './format.js';

export interface ModelProgress {
  name: string;
  /** Steps the model will take. */
  total: number;
  /** Steps taken so far. */
  done: number;
  loss?: number;
  evalLoss?: number;
  status: 'queued' | 'training' | ModelStatus;
  reason?: string;
  /** Job time (s) of the model's first event and of its latest step. */
  firstT?: number;
  lastT?: number;
}

export class ProgressState {
  readonly models = new Map<string, ModelProgress>();

  constructor(models: { name: string; totalSteps: number }[]) {
    for (const m of models) this.models.set(m.name, { name: m.name, total: m.totalSteps, done: 0, status: 'queued' });
  }

  /** Fold one event in; returns the model it changed, if any. */
  apply(e: HydraEvent): ModelProgress | undefined {
    if (e.type === 'plan' || e.type === 'log') return undefined;
    const m = this.models.get(e.model);
    if (!m) return undefined;
    m.firstT ??= e.t;
    if (m.status === 'queued') m.status = 'training';
    if (e.type === 'step') {
      // Step events carry the 0-based index of the step just taken.
      m.done = Math.max(m.done, e.step + 1);
      m.loss = e.loss;
      m.lastT = e.t;
    } else if (e.type === 'eval') {
      m.evalLoss = e.loss;
    } else if (e.type === 'model-end') {
      m.status = e.status;
      m.reason = e.reason;
      m.lastT = e.t;
    }
    return m;
  }

  /** Seconds left for `m` at its average pace so far (undefined until it has a pace). */
  etaSeconds(m: ModelProgress): number | undefined {
    if (m.status !== 'training') return m.status === 'queued' ? undefined : 0;
    if (m.done === 0 || m.firstT === undefined || m.lastT === undefined) return undefined;
    return ((m.lastT - m.firstT) / m.done) * Math.max(0, m.total - m.done);
  }

  describeStatus(m: ModelProgress): string {
    if (m.status === 'diverged' || m.status === 'failed' || m.status === 'stopped' || m.status === 'stopped-early') return m.reason ? `${m.status}: ${m.reason}` : m.status;
    return m.status;
  }

  etaText(m: ModelProgress): string {
    if (m.status !== 'training' && m.status !== 'queued') return '-';
    const eta = this.etaSeconds(m);
    return eta === undefined ? '?' : formatSeconds(eta);
  }

  lossText(m: ModelProgress): string {
    return formatLoss(m.loss);
  }
}
