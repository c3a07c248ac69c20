/**
 * The device timeline as SVG, drawn once for both `hydra simulate --gantt` (simulated tasks) and the dashboard and
 * report (a real job's task events): one row per device, each task a rectangle coloured by its model (labelled with
 * its phase and shard when wide enough, with a tooltip), the wait before compute (copies not hidden by prefetch)
 * drawn as a grey sliver before it, a time axis and a legend. Self-contained SVG (no fonts, scripts or styles beyond
 * inline attributes) and free of Node imports, so the browser bundle draws with this same code.
 */

export interface TimelineBar {
  device: number;
  /** Index of the model (its colour and legend entry). */
  model: number;
  /** Phase and shard, e.g. 'FL1'. */
  label: string;
  /** When the device took the task, when compute began (after waiting for copies), when it ended; seconds. */
  assigned: number;
  start: number;
  end: number;
  /** Extra tooltip text (bytes moved, prefetch overlap). */
  detail?: string;
}

export interface TimelineDrawing {
  title: string;
  /** Row labels, one per device. */
  devices: string[];
  modelNames: string[];
  bars: readonly TimelineBar[];
  /** Right edge of the time axis, seconds. */
  makespan: number;
  /** Width of the plot area in pixels (default 1200). */
  width?: number;
}

const ROW = 26;
const GAP = 6;
const LEFT = 110;
const RIGHT = 20;
const TOP = 44;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Distinct, stable colours: hues spread by the golden angle. The dashboard's curves use the same ones. */
export function modelColour(i: number): string {
  return `hsl(${Math.round((i * 137.508) % 360)}, 62%, ${i % 2 ? 58 : 46}%)`;
}

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function timeUnit(makespan: number): { div: number; name: string } {
  if (makespan >= 3 * 3600) return { div: 3600, name: 'h' };
  if (makespan >= 3 * 60) return { div: 60, name: 'min' };
  return { div: 1, name: 's' };
}

export function timelineSvg(d: TimelineDrawing): string {
  const plotW = d.width ?? 1200;
  const makespan = Math.max(d.makespan, 1e-9);
  const x = (t: number) => LEFT + (t / makespan) * plotW;
  const D = d.devices.length;
  const names = d.modelNames;
  const legendCols = Math.max(1, Math.floor((LEFT + plotW) / 220));
  const shown = Math.min(names.length, 48);
  const legendRows = Math.ceil(shown / legendCols) + (names.length > shown ? 1 : 0);
  const axisY = TOP + D * (ROW + GAP);
  const height = axisY + 40 + legendRows * 18 + 10;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + plotW + RIGHT}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${esc(d.title)}</text>`);

  for (let i = 0; i < D; i++) {
    const y = TOP + i * (ROW + GAP);
    out.push(`<text x="${LEFT - 8}" y="${y + ROW / 2 + 4}" text-anchor="end">${esc(d.devices[i])}</text>`);
    out.push(`<rect x="${LEFT}" y="${y}" width="${plotW}" height="${ROW}" fill="#f3f3f3"/>`);
  }
  const coalesced = coalesce(d.bars, makespan / plotW);
  for (const t of coalesced ?? d.bars) {
    const y = TOP + t.device * (ROW + GAP);
    if (t.start > t.assigned) out.push(`<rect x="${x(t.assigned).toFixed(2)}" y="${y + ROW / 3}" width="${(x(t.start) - x(t.assigned)).toFixed(2)}" height="${ROW / 3}" fill="#999"/>`);
    const w = x(t.end) - x(t.start);
    const tip = `${names[t.model] ?? `model ${t.model}`}${t.label ? ` ${t.label}` : ' (mostly)'} ${fmt(t.start)}–${fmt(t.end)} s${t.detail ? `; ${t.detail}` : ''}`;
    // class="task": one per task when tasks are drawn one by one (the dashboard's tests count them).
    out.push(`<rect${coalesced ? '' : ' class="task"'} x="${x(t.start).toFixed(2)}" y="${y}" width="${Math.max(w, 0.3).toFixed(2)}" height="${ROW}" fill="${modelColour(t.model)}" stroke="white" stroke-width="0.5"><title>${esc(tip)}</title></rect>`);
    if (t.label && w > 7 * t.label.length) out.push(`<text x="${(x(t.start) + w / 2).toFixed(2)}" y="${y + ROW / 2 + 4}" text-anchor="middle" fill="white">${esc(t.label)}</text>`);
  }

  const unit = timeUnit(makespan);
  const step = niceStep(makespan / unit.div, 10) * unit.div;
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + plotW}" y2="${axisY}" stroke="black"/>`);
  for (let t = 0; t <= makespan * 1.0001; t += step) {
    out.push(`<line x1="${x(t).toFixed(2)}" y1="${axisY}" x2="${x(t).toFixed(2)}" y2="${axisY + 5}" stroke="black"/>`);
    out.push(`<text x="${x(t).toFixed(2)}" y="${axisY + 17}" text-anchor="middle">${fmt(t / unit.div)}</text>`);
  }
  out.push(`<text x="${LEFT + plotW}" y="${axisY + 32}" text-anchor="end">time (${unit.name})</text>`);

  const legendY = axisY + 48;
  for (let i = 0; i < shown; i++) {
    const lx = LEFT + (i % legendCols) * 220, ly = legendY + Math.floor(i / legendCols) * 18;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${modelColour(i)}"/><text x="${lx + 17}" y="${ly}">${esc(names[i] ?? `model ${i}`)}</text>`);
  }
  if (names.length > shown) out.push(`<text x="${LEFT}" y="${legendY + Math.ceil(shown / legendCols) * 18}">… and ${names.length - shown} more models</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * Bars to draw when tasks are mostly narrower than a pixel (long runs), else null (draw each task). Each device row
 * is cut into pixel columns, each column takes the colour of the model that used most of it, and runs of equal
 * columns become one bar: the chart keeps its meaning and its size stays O(devices × width) instead of O(tasks).
 */
function coalesce(timeline: readonly TimelineBar[], secondsPerPixel: number): TimelineBar[] | null {
  const widths = timeline.map((t) => t.end - t.start).sort((a, b) => a - b);
  const median = widths[widths.length >> 1] ?? 0;
  if (median >= 2 * secondsPerPixel) return null;
  const byDevice = new Map<number, TimelineBar[]>();
  for (const t of timeline) {
    const list = byDevice.get(t.device) ?? [];
    list.push(t);
    byDevice.set(t.device, list);
  }
  const bars: TimelineBar[] = [];
  for (const [device, list] of byDevice) {
    // Per pixel column: seconds of compute per model.
    const columns = new Map<number, Map<number, number>>();
    for (const t of list) {
      for (let c = Math.floor(t.start / secondsPerPixel); c * secondsPerPixel < t.end; c++) {
        const lo = Math.max(t.start, c * secondsPerPixel), hi = Math.min(t.end, (c + 1) * secondsPerPixel);
        if (hi <= lo) continue;
        const col = columns.get(c) ?? new Map<number, number>();
        col.set(t.model, (col.get(t.model) ?? 0) + hi - lo);
        columns.set(c, col);
      }
    }
    let run: TimelineBar | null = null;
    for (const c of [...columns.keys()].sort((a, b) => a - b)) {
      const col = columns.get(c)!;
      let best = -1, used = 0;
      for (const [m, sec] of col) if (best < 0 || sec > col.get(best)!) best = m;
      for (const sec of col.values()) used += sec;
      if (used < secondsPerPixel / 2) continue; // a mostly idle column stays empty
      if (run && run.model === best && run.end === c * secondsPerPixel) run.end = (c + 1) * secondsPerPixel;
      else {
        run = { device, model: best, label: '', assigned: c * secondsPerPixel, start: c * secondsPerPixel, end: (c + 1) * secondsPerPixel };
        bars.push(run);
      }
    }
  }
  return bars;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
