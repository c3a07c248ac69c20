/** Per-model summary figures and the ranking used by the results table and files. */
import type { ModelResult } from '../hydra/api.js';

export interface ModelMetrics {
  /** Last training loss (NaN when no step was taken). */
  finalTrainLoss: number;
  /** Loss/perplexity of the last evaluation, when evaluated. */
  finalEvalLoss?: number;
  finalPerplexity?: number;
}

export function modelMetrics(m: Pick<ModelResult, 'losses' | 'evals'>): ModelMetrics {
  const last = m.evals.length > 0 ? m.evals[m.evals.length - 1] : undefined;
  return {
    finalTrainLoss: m.losses.length > 0 ? m.losses[m.losses.length - 1] : Number.NaN,
    finalEvalLoss: last?.loss,
    finalPerplexity: last?.perplexity,
  };
}

/** What the ranking compares: final eval loss when evaluated, else the last training loss. */
export function rankingLoss(m: Pick<ModelResult, 'losses' | 'evals'>): { loss: number; evaluated: boolean } {
  const x = modelMetrics(m);
  return x.finalEvalLoss !== undefined ? { loss: x.finalEvalLoss, evaluated: true } : { loss: x.finalTrainLoss, evaluated: false };
}

/**
 * Best first: finished models by ranking loss (evaluated ones before those ranked on training loss, since the two
 * are not comparable), then stopped early (fewer steps: not comparable either), stopped (unfinished), diverged,
 * failed; ties keep the job's order. Non-finite losses sort last.
 */
export function rankModels<M extends Pick<ModelResult, 'status' | 'losses' | 'evals'>>(models: readonly M[]): M[] {
  const statusOrder = { done: 0, 'stopped-early': 1, stopped: 2, diverged: 3, failed: 4 } as const;
  const keyed = models.map((m, i) => ({ m, i, r: rankingLoss(m) }));
  keyed.sort((a, b) => {
    const s = statusOrder[a.m.status] - statusOrder[b.m.status];
    if (s !== 0) return s;
    if (a.m.status !== 'done') return a.i - b.i;
    if (a.r.evaluated !== b.r.evaluated) return a.r.evaluated ? -1 : 1;
    const la = Number.isFinite(a.r.loss) ? a.r.loss : Infinity;
    const lb = Number.isFinite(b.r.loss) ? b.r.loss : Infinity;
    return la !== lb ? la - lb : a.i - b.i;
  });
  return keyed.map((k) => k.m);
}
