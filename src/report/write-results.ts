/**
 * Writing a finished job into its output directory: results.json, results.csv, then models/<safe name>/ (final
 * weights of every finished model, via `saveModel`). events.jsonl is streamed during the job by EventsWriter.
 *
 * Results come first and never depend on weights: results.json and results.csv are written before any weights, so a
 * disk that fills while weights are written still leaves the job's results; once the weights are written the two
 * files are rewritten to name the weight directories and whatever could not be written. Every failure is recorded
 * (what, path, why) and returned, never thrown: one model's weights failing does not stop the others'. Files are
 * replaced atomically so a reader never sees a half-written results file.
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
  /** Problems met earlier in the job (events that could not be written…), recorded in results.json. */
  problems?: string[];
}

export interface WriteFailure {
  /** What was being written, e.g. 'results.json' or "weights of model 'lr=3e-4'". */
  what: string;
  path: string;
  error: string;
}

export interface WrittenResults {
  /** Paths of the results files, null where writing failed. */
  resultsJson: string | null;
  resultsCsv: string | null;
  /** Model name → absolute weights directory (finished models whose weights were written). */
  modelDirs: Map<string, string>;
  failures: WriteFailure[];
}

/**
 * Diverged or failed models have no trustworthy weights (NaN, or a half-finished step). Finished models and those
 * early stopping ended (whole steps, a model one may still want to look at or fine-tune) are saved.
 */
export const hasWeightsToSave = (m: ModelResult): boolean => m.status === 'done' || m.status === 'stopped-early';

export const describeFailure = (f: WriteFailure): string => `${f.what}: ${f.error}`;

async function attempt(failures: WriteFailure[], what: string, path: string, write: () => unknown): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    failures.push({ what, path, error: message.includes(path) ? message : `${path}: ${message}` });
    return false;
  }
}

export async function writeResults(outDir: string, job: JobResult, opts: WriteResultsOptions): Promise<WrittenResults> {
  const summary = summariseJob(job);
  const jsonPath = join(outDir, 'results.json');
  const csvPath = join(outDir, 'results.csv');
  const failures: WriteFailure[] = [];
  const relDirs = new Map<string, string>();
  const writeTables = async (): Promise<[boolean, boolean]> => {
    const problems = [...(opts.problems ?? []), ...failures.map(describeFailure)];
    const json = buildResultsJson(summary, { name: opts.name, config: opts.config, weightsDirs: relDirs, specs: opts.specs, startedAt: opts.startedAt, finishedAt: opts.finishedAt });
    const body = problems.length > 0 ? { ...(json as object), problems } : json;
    return [
      await attempt(failures, 'results.json', jsonPath, () => writeFileAtomicSync(jsonPath, [Buffer.from(renderResultsJson(body))])),
      await attempt(failures, 'results.csv', csvPath, () => writeFileAtomicSync(csvPath, [Buffer.from(renderResultsCsv(summary, relDirs))])),
    ];
  };
  let [jsonOk, csvOk] = await writeTables();

  const modelDirs = new Map<string, string>();
  if (opts.saveModel) {
    const safe = fsSafeNames(job.models.map((m) => m.name));
    for (const m of job.models.filter(hasWeightsToSave)) {
      const rel = join('models', safe.get(m.name)!);
      const dir = join(outDir, rel);
      if (await attempt(failures, `weights of model '${m.name}'`, dir, () => opts.saveModel!(dir, m))) {
        relDirs.set(m.name, rel);
        modelDirs.set(m.name, dir);
      }
    }
    // Name the weight directories and any failure; a rewrite that fails leaves the first version in place.
    if (modelDirs.size > 0 || failures.length > 0) {
      const before = failures.length;
      const [j, c] = await writeTables();
      // A second failure of a file that failed the first time says nothing new.
      const again = failures.splice(before).filter((f) => (f.what === 'results.json' ? jsonOk : csvOk));
      failures.push(...again);
      jsonOk ||= j;
      csvOk ||= c;
    }
  }
  return { resultsJson: jsonOk ? jsonPath : null, resultsCsv: csvOk ? csvPath : null, modelDirs, failures };
}
