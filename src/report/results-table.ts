/** The end-of-job report on stdout: ranked results table, failure reasons, then the job summary. */
import type { JobResult, ModelResult } from '../hydra/api.js';
import { formatHValue } from '../config/grid.js';
import { formatBytes, formatLoss, formatPercent, formatPerplexity, formatSeconds, renderTable } from './format.js';
import { modelMetrics, rankModels } from './metrics.js';

/** Results without weights: what the report needs (results.json holds the same). */
export type ModelSummary = Omit<ModelResult, 'weights'>;
export type JobSummary = Omit<JobResult, 'models'> & { models: ModelSummary[] };

export function formatHparams(h: Record<string, string | number | boolean>): string {
  const parts = Object.entries(h).map(([k, v]) => `${k}=${formatHValue(v)}`);
  return parts.length > 0 ? parts.join(' ') : '-';
}

export function renderResultsTable(job: JobSummary): string {
  const ranked = rankModels(job.models);
  const header = ['#', 'model', 'hyper-parameters', 'status', 'steps', 'train loss', 'eval loss', 'eval ppl', 'device-s'];
  const rows = ranked.map((m, i) => {
    const x = modelMetrics(m);
    return [
      String(i + 1),
      m.name,
      formatHparams(m.hparams),
      m.status,
      String(m.steps),
      formatLoss(x.finalTrainLoss),
      formatLoss(x.finalEvalLoss),
      formatPerplexity(x.finalPerplexity),
      m.deviceSeconds.toFixed(1),
    ];
  });
  const lines = [renderTable(header, rows, [true, false, false, false, true, true, true, true, true])];
  const failures = ranked.filter((m) => m.status !== 'done');
  if (failures.length > 0) {
    lines.push('');
    for (const m of failures) lines.push(`${m.name}: ${m.status}${m.reason ? ` — ${m.reason}` : ''}`);
  }
  return lines.join('\n');
}

export function renderJobSummary(job: JobSummary): string {
  const counts = { done: 0, 'stopped-early': 0, stopped: 0, diverged: 0, failed: 0 };
  for (const m of job.models) counts[m.status]++;
  const statusText = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const lines = [
    `job: ${job.models.length} model${job.models.length === 1 ? '' : 's'} (${statusText || 'none'}), policy ${job.policy}, makespan ${formatSeconds(job.makespanSeconds)}`,
  ];
  for (const d of job.devices) {
    // Fresh allocations a cpu device made outside its memory region for want of room (fragmentation at a budget its
    // peak nearly fills); a few percent more device memory avoids them.
    const n = d.outsideRegion ?? 0;
    const outside = n > 0 ? `; ${n} buffer${n === 1 ? '' : 's'} allocated outside its memory region` : '';
    lines.push(
      `  device ${d.id}: busy ${formatSeconds(d.busySeconds)} (${formatPercent(d.utilisation)}), peak ${formatBytes(d.highWater)} of ${formatBytes(d.budget)}${outside}`,
    );
  }
  const overlapShare = job.makespanSeconds > 0 ? ` (${formatPercent(job.overlapSeconds / job.makespanSeconds)} of the makespan)` : '';
  lines.push(`  moved ${formatBytes(job.bytesMoved)} between host and devices; ${formatSeconds(job.overlapSeconds)} of copying overlapped compute${overlapShare}`);
  const p = job.prefetch;
  const failures = p.failures > 0 ? `; ${p.failures} prefetch${p.failures === 1 ? '' : 'es'} did not fit beside the running task` : '';
  lines.push(`  prefetched ${formatBytes(p.copiedBytes)} (${formatBytes(p.usedBytes)} used, ${formatBytes(p.droppedBytes)} dropped)${failures}`);
  return lines.join('\n');
}
