/** Live progress on a terminal: one cli-progress bar per model (name, step/total, loss, status, ETA). */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { HydraEvent } from '../hydra/api.js';
import { formatLoss } from './format.js';
import type { ProgressDisplay } from './progress.js';
import { ProgressState, type ModelProgress } from './progress-state.js';

interface Payload {
  name: string;
  loss: string;
  evalLoss: string;
  status: string;
  etaText: string;
}

export class BarProgress implements ProgressDisplay {
  private readonly multibar: MultiBar;
  private readonly bars = new Map<string, SingleBar>();
  private readonly width: number;

  constructor(
    private readonly state: ProgressState,
    out: NodeJS.WritableStream,
  ) {
    this.width = Math.max(0, ...[...state.models.keys()].map((n) => n.length));
    this.multibar = new MultiBar(
      {
        stream: out,
        format: '{name} {bar} {value}/{total} | loss {loss} | eval {evalLoss} | {status} | ETA {etaText}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 5,
      },
      Presets.shades_classic,
    );
    for (const m of state.models.values()) this.bars.set(m.name, this.multibar.create(m.total, 0, this.payload(m)));
  }

  private payload(m: ModelProgress): Payload {
    // Reasons can be long; the full text is in the results table, the bar shows the status word.
    return { name: m.name.padEnd(this.width), loss: formatLoss(m.loss), evalLoss: formatLoss(m.evalLoss), status: m.status, etaText: this.state.etaText(m) };
  }

  onEvent(e: HydraEvent): void {
    if (e.type === 'log') {
      this.log(e.message);
      return;
    }
    const m = this.state.apply(e);
    if (!m) return;
    if (e.type === 'step' || e.type === 'eval' || e.type === 'model-end') this.bars.get(m.name)?.update(m.done, this.payload(m));
    if (e.type === 'model-end' && m.status !== 'done') this.log(`${m.name}: ${this.state.describeStatus(m)}`);
  }

  log(message: string): void {
    this.multibar.log(`${message}\n`);
  }

  stop(): void {
    if (!this.multibar.isActive) return;
    // stop() renders the bars but drops log lines still queued for the next redraw: flush them first.
    this.multibar.update();
    this.multibar.stop();
  }
}
