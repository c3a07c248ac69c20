/**
 * Writing a finished job into its output directory:
 *   results.json, results.csv, models/<safe name>/ (final weights of every finished model, via `saveModel`).
 * events.jsonl is streamed during the job by EventsWriter. Files are replaced atomically so a reader never sees a
 * half-written results file.
 */
import { join } from 'node:path';
import { writeFileAtomicSync } from '../data/atomic-write.js';
import type { JobResult, ModelResult } from '../hydra/api.js';
import { fsSafeNames } from './names.js';
import { renderResultsCsv } from './results-csv.js';
import { buildResultsJson, renderResultsJson, summariseJob } from './results-json.js';

export interface WriteResultsOptions {
  name: string;
  config: unknown;
  startedAt?: string;
  finishedAt?: string;
  /** Per-model training setup for results.json (model name → JSON-able spec). */
  specs?: Map<string, unknown>;
  /** Save one model's final weights into `dir` (e.g. saveHfGpt2). Absent: no weights are written. */
  saveModel?: (dir: string, model: ModelResult) => Promise<void> | void;
}

export interface WrittenResults {
  resultsJson: string;
  resultsCsv: string;
  /** Model name → absolute weights directory (finished models only). */
  modelDirs: Map<string, string>;
}

export async function writeResults(outDir: string, job: JobResult, opts: WriteResultsOptions): Promise<WrittenResults> {
  const safe = fsSafeNames(job.models.map((m) => m.name));
  const relDirs = new Map<string, string>();
  const modelDirs = new Map<string, string>();
  if (opts.saveModel) {
    // Diverged or failed models have no trustworthy weights (NaN, or a half-finished step): only finished ones.
    for (const m of job.models.filter((x) => x.status === 'done')) {
      const rel = join('models', safe.get(m.name)!);
      const dir = join(outDir, rel);
      await opts.saveModel(dir, m);
      relDirs.set(m.name, rel);
      modelDirs.set(m.name, dir);
    }
  }
  const summary = summariseJob(job);
  const resultsJson = join(outDir, 'results.json');
  const resultsCsv = join(outDir, 'results.csv');
  const json = buildResultsJson(summary, { name: opts.name, config: opts.config, weightsDirs: relDirs, specs: opts.specs, startedAt: opts.startedAt, finishedAt: opts.finishedAt });
  writeFileAtomicSync(resultsJson, [Buffer.from(renderResultsJson(json))]);
  writeFileAtomicSync(resultsCsv, [Buffer.from(renderResultsCsv(summary, relDirs))]);
  return { resultsJson, resultsCsv, modelDirs };
}
