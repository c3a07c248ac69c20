/** results.csv: one row per model (RFC 4180 quoting), best first, hyper-parameters as their own columns. */
import { modelMetrics, rankModels } from './metrics.js';
import type { JobSummary } from './results-table.js';

/** Quote a field when it holds a comma, quote, CR or LF (quotes doubled); numbers print exactly. */
export function csvField(v: string | number | boolean | undefined | null): string {
  if (v === undefined || v === null) return '';
  const s = String(v); // numbers: shortest exact form; NaN/Infinity as words (pandas reads them)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(fields: (string | number | boolean | undefined | null)[]): string {
  return fields.map(csvField).join(',');
}

export function renderResultsCsv(job: JobSummary, dirs?: Map<string, string>): string {
  const hkeys: string[] = [];
  for (const m of job.models) for (const k of Object.keys(m.hparams)) if (!hkeys.includes(k)) hkeys.push(k);
  const header = [
    'rank', 'name', ...hkeys, 'status', 'reason', 'steps', 'final_train_loss', 'final_eval_loss', 'final_eval_perplexity',
    'device_seconds', 'wall_seconds', 'shards', 'weights_dir',
  ];
  const rows = rankModels(job.models).map((m, i) => {
    const x = modelMetrics(m);
    return csvLine([
      i + 1, m.name, ...hkeys.map((k) => m.hparams[k]), m.status, m.reason, m.steps, x.finalTrainLoss, x.finalEvalLoss,
      x.finalPerplexity, m.deviceSeconds, m.wallSeconds, m.plan?.shards.length, dirs?.get(m.name),
    ]);
  });
  return [csvLine(header), ...rows].join('\n') + '\n';
}
