/** Plain-text tables of simulation results (CLI and benches). */
import type { SimResult } from './types.js';

export function formatTable(rows: Record<string, string>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(width[i]) : v.padStart(width[i]))).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => r[c] ?? '')))].join('\n');
}

/** Seconds as '9410 s (2h 36m)' for long runs, '12.3 s' for short ones. */
export function formatSeconds(s: number): string {
  if (s < 600) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60);
  return `${s.toFixed(0)} s (${h ? `${h}h ` : ''}${m}m)`;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One row per policy; `reference` is the optimum (or the lower bound), named by `referenceName`. */
export function resultRows(results: readonly SimResult[], reference: number, referenceName: string): Record<string, string>[] {
  return results.map((r) => {
    const t = r.transfers;
    const copied = r.tasks - t.resident;
    const done = r.models.filter((m) => m.status === 'done').length;
    return {
      policy: r.policy,
      makespan: formatSeconds(r.makespan),
      [`× ${referenceName}`]: (r.makespan / reference).toFixed(3),
      utilisation: pct(r.utilisation),
      'param wait': pct(t.stallSeconds / (r.makespan * r.devices.length)),
      'prefetch hits': copied > 0 ? pct(t.prefetchHits / copied) : '-',
      models: `${done}/${r.models.length}`,
    };
  });
}
