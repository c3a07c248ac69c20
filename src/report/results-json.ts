/** results.json: the JobResult without weights, plus the config that produced it and per-model summary figures. */
import type { JobResult } from '../hydra/api.js';
import { modelMetrics, rankModels } from './metrics.js';
import type { JobSummary, ModelSummary } from './results-table.js';

export const RESULTS_FORMAT_VERSION = 1;

/** Drop the weights (large, binary: saved separately) and keep everything else. */
export function summariseJob(job: JobResult | JobSummary): JobSummary {
  return { ...job, models: job.models.map(({ weights: _w, ...rest }: ModelSummary & { weights?: unknown }) => rest) };
}

export interface ResultsJsonExtra {
  name: string;
  /** The validated config (any JSON-able form). */
  config: unknown;
  /** Model name → weights directory relative to the output directory. */
  weightsDirs?: Map<string, string>;
  /** Model name → what it trained with (model config, optimizer, schedule, batch shape, seed). */
  specs?: Map<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
}

export function buildResultsJson(job: JobSummary, extra: ResultsJsonExtra): unknown {
  return {
    format: 'hydra-results',
    version: RESULTS_FORMAT_VERSION,
    name: extra.name,
    startedAt: extra.startedAt,
    finishedAt: extra.finishedAt,
    ranking: rankModels(job.models).map((m) => m.name),
    ...job,
    models: job.models.map((m) => ({ ...m, ...modelMetrics(m), weightsDir: extra.weightsDirs?.get(m.name), spec: extra.specs?.get(m.name) })),
    config: extra.config,
  };
}

/** JSON text; NaN/Infinity become null (JSON has no such numbers). */
export function renderResultsJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
