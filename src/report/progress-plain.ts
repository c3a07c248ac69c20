/**
 * Progress for logs (not a TTY): plain lines, no escape codes. One line per model every `everySteps` steps, one at
 * each evaluation and one when the model ends; log events pass through.
 */
import type { HydraEvent } from '../hydra/api.js';
import { formatLoss, formatPerplexity } from './format.js';
import type { ProgressDisplay } from './progress.js';
import { ProgressState, type ModelProgress } from './progress-state.js';

export interface PlainProgressOptions {
  /** Print a model's line every this many steps (default: a fifth of its steps). */
  everySteps?: number;
}

export class PlainProgress implements ProgressDisplay {
  private readonly width: number;

  constructor(
    private readonly state: ProgressState,
    private readonly out: NodeJS.WritableStream,
    private readonly opts: PlainProgressOptions = {},
  ) {
    this.width = Math.max(0, ...[...state.models.keys()].map((n) => n.length));
  }

  private every(m: ModelProgress): number {
    return this.opts.everySteps ?? Math.max(1, Math.ceil(m.total / 5));
  }

  private line(t: number, m: ModelProgress, text: string): void {
    this.out.write(`[${t.toFixed(1).padStart(7)}s] ${m.name.padEnd(this.width)}  ${text}\n`);
  }

  onEvent(e: HydraEvent): void {
    if (e.type === 'log') {
      this.log(e.message);
      return;
    }
    const m = this.state.apply(e);
    if (!m) return;
    const steps = `step ${String(m.done).padStart(String(m.total).length)}/${m.total}`;
    if (e.type === 'step' && (m.done % this.every(m) === 0 || m.done === 1) && m.done < m.total) {
      this.line(e.t, m, `${steps}  loss ${formatLoss(m.loss)}  ETA ${this.state.etaText(m)}`);
    } else if (e.type === 'eval') {
      this.line(e.t, m, `eval after epoch ${e.epoch}: loss ${formatLoss(e.loss)}, perplexity ${formatPerplexity(e.perplexity)}`);
    } else if (e.type === 'model-end') {
      this.line(e.t, m, `${steps}  loss ${formatLoss(m.loss)}  ${this.state.describeStatus(m)}`);
    }
  }

  log(message: string): void {
    this.out.write(`${message}\n`);
  }

  stop(): void {}
}
