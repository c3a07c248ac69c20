/** Number formatting shared by the table, progress lines and summaries. */
import { formatBytes } from '../hydra/units.js';

export { formatBytes };

export function formatLoss(x: number | undefined): string {
  if (x === undefined) return '-';
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

export function formatPerplexity(x: number | undefined): string {
  if (x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  return x >= 1000 ? x.toFixed(0) : x.toFixed(2);
}

/** Seconds for people: '850ms', '12.3s', '4m05s', '2h03m'. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '-';
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(total / 3600)}h${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatPercent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : '-';
}

/** A left-aligned text table; numeric-looking columns are right-aligned. */
export function renderTable(header: string[], rows: string[][], rightAligned: boolean[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
