/** Progress display of a running job: live bars on a terminal, plain periodic lines otherwise (CI logs). */
import type { HydraEvent } from '../hydra/api.js';
import { BarProgress } from './progress-bars.js';
import { PlainProgress, type PlainProgressOptions } from './progress-plain.js';
import { ProgressState } from './progress-state.js';

export interface ProgressDisplay {
  onEvent(e: HydraEvent): void;
  /** A message that must not be torn by redrawing bars. */
  log(message: string): void;
  /** Final redraw; releases the terminal. Call once, also on errors. */
  stop(): void;
}

export interface ProgressOptions extends PlainProgressOptions {
  models: { name: string; totalSteps: number }[];
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force a mode; default: bars when the stream is a TTY. */
  mode?: 'bars' | 'lines';
}

export function createProgress(o: ProgressOptions): ProgressDisplay {
  const state = new ProgressState(o.models);
  const mode = o.mode ?? (o.stream.isTTY ? 'bars' : 'lines');
  return mode === 'bars' ? new BarProgress(state, o.stream) : new PlainProgress(state, o.stream, o);
}
