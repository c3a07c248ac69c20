/**
 * The dashboard's HTML parts as strings from a JobView: the header (progress, ETA), the ranked table, the device
 * timeline (the simulator's Gantt drawing) and the log. Pure functions (no DOM), so Node tests can call them too.
 */
import { formatHValue } from '../../config/grid.js';
import { formatBytes, formatLoss, formatPerplexity, formatSeconds } from '../../report/format.js';
import { rankModels } from '../../report/metrics.js';
import { jobEta, modelFigures, varyingHparams, type JobView, type ModelView } from '../job-view.js';
import { modelColour, timelineSvg } from '../../report/timeline-svg.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** As the results table writes losses, but a diverging model's huge ones in exponent form. */
function lossText(x: number | undefined): string {
  return x !== undefined && Math.abs(x) >= 1e5 ? x.toExponential(3) : formatLoss(x);
}

function isActive(m: ModelView): boolean {
  return m.status === 'running' || m.status === 'waiting';
}

export function renderHeader(view: JobView, mode: 'live' | 'report', connected: boolean): string {
  const meta = view.meta;
  const ended = view.models.length > 0 && !view.models.some(isActive);
  const counts = new Map<string, number>();
  for (const m of view.models) counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
  const statusText = [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no models yet';
  const eta = ended ? 'finished' : (() => {
    const s = jobEta(view);
    return s === undefined ? 'ETA: measuring' : `ETA ${formatSeconds(s)}`;
  })();
  const where = mode === 'report' ? 'report' : connected ? 'live' : ended ? 'job over' : 'disconnected (retrying)';
  const setup = meta ? ` · ${esc(meta.devices)}, ${formatBytes(meta.deviceMemory)} per device, policy ${esc(meta.policy)}` : '';
  return `<h1>${esc(meta?.name ?? 'hydra job')}</h1>
<p><span class="badge ${where.split(' ')[0]}" id="connection">${where}</span> ${view.models.length} models: ${statusText}${setup}
 · job time ${formatSeconds(view.now)} · <b id="eta">${eta}</b></p>`;
}

/** Ranked like results.txt: finished models by eval (else train) loss, then stopped, diverged, failed. Running ones rank as if done. */
function ranked(view: JobView): ModelView[] {
  const asDone = view.models.map((m) => ({ m, status: m.status === 'running' || m.status === 'waiting' ? ('done' as const) : m.status, losses: m.losses, evals: m.evals }));
  return rankModels(asDone).map((x) => x.m);
}

export function renderTable(view: JobView): string {
  const keys = varyingHparams(view.models);
  const head = ['#', 'model', ...keys, 'status', 'step', 'train loss', 'eval loss', 'eval ppl', 'tokens/s', 'ETA'];
  const rows = ranked(view).map((m, i) => {
    const f = modelFigures(m, view.now);
    const step = `${f.steps}${m.totalSteps !== undefined ? ` / ${m.totalSteps}` : ''}`;
    const status = `<span class="status ${m.status}">${m.status}</span>${m.reason ? `<div class="reason">${esc(m.reason)}</div>` : ''}`;
    const cells: [string, string][] = [
      ['rank', String(i + 1)],
      ['model', `<span class="swatch" style="background:${modelColour(m.index)}"></span>${esc(m.name)}`],
      ...keys.map((k): [string, string] => [`h-${esc(k)}`, m.hparams[k] === undefined ? '-' : esc(formatHValue(m.hparams[k]))]),
      ['status', status],
      ['step', step],
      ['loss', lossText(f.lastLoss)],
      ['eval-loss', lossText(f.lastEval?.loss)],
      ['ppl', formatPerplexity(f.lastEval?.perplexity)],
      ['tokens', f.tokensPerSecond === undefined ? '-' : f.tokensPerSecond.toFixed(0)],
      ['eta', f.etaSeconds === undefined ? '-' : f.etaSeconds === 0 ? '' : formatSeconds(f.etaSeconds)],
    ];
    return `<tr data-model="${esc(m.name)}" class="${m.status}">${cells.map(([c, v]) => `<td data-col="${c}">${v}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The device timeline: one bar per finished task (task-end event), drawn by the code `hydra simulate --gantt` uses. */
export function renderTimeline(view: JobView, width: number): string {
  if (view.deviceCount === 0) return '<p class="empty">no tasks yet</p>';
  const bars = view.tasks.map((t) => ({
    device: t.device, model: t.model, label: `${t.kind}${t.shard}`, assigned: t.assigned, start: t.start, end: t.end,
    detail: `step ${t.step}, in ${formatBytes(t.bytesIn)} (prefetched ${formatBytes(t.prefetchedBytes)}, ${formatSeconds(t.overlapSeconds)} overlapped), out ${formatBytes(t.bytesOut)}`,
  }));
  const busy = new Array<number>(view.deviceCount).fill(0);
  for (const t of view.tasks) busy[t.device] += t.end - t.start;
  return timelineSvg({
    title: `device timeline: ${view.tasks.length} tasks (grey: waiting for copies)`,
    devices: busy.map((b, d) => `device ${d} ${view.now > 0 ? `${Math.round((100 * b) / view.now)}%` : ''}`),
    modelNames: view.models.map((m) => m.name),
    bars,
    makespan: view.now,
    width,
  });
}

export function renderLog(view: JobView): string {
  const lines = view.models.filter((m) => m.reason).map((m) => `<li class="${m.status}"><b>${esc(m.name)}</b> ${m.status}: ${esc(m.reason!)}</li>`);
  for (const l of view.logs.slice(-20)) lines.push(`<li>${formatSeconds(l.t)}: ${esc(l.message)}</li>`);
  if (view.checkpoints > 0) lines.push(`<li>${view.checkpoints} checkpoint${view.checkpoints === 1 ? '' : 's'} written</li>`);
  return lines.length > 0 ? `<ul>${lines.join('')}</ul>` : '';
}
