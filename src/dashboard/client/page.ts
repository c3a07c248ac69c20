/**
 * The dashboard page (browser code, bundled with uPlot by scripts/bundle-dashboard.mjs into one script that the
 * live page and report.html both inline). It folds the job's events into a JobView (the same reducer as Node's) and
 * draws the header, the ranked table, the loss curves, the device timeline and memory. Live: events arrive by
 * server-sent events from /events; report: they are embedded in the page.
 */
import type { HydraEvent } from '../../hydra/api.js';
import { applyEvent, buildView, type JobView } from '../job-view.js';
import type { PageData } from '../page-data.js';
import { renderHeader, renderLog, renderTable, renderTimeline } from './render-html.js';
import { Charts } from './charts.js';

declare global {
  interface Window {
    /** For tests and the curious: the current view and the charts. */
    hydraDashboard?: { view: JobView; charts: Charts; rendered: number; connected: boolean };
  }
}

function start(): void {
  const data = JSON.parse(document.getElementById('hydra-data')!.textContent!) as PageData;
  const view = buildView(data.events, data.meta);
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const el = (id: string) => document.getElementById(id)!;
  const charts = new Charts(el('loss'), el('evals'), el('memory'), el('host-memory'));
  const state = { view, charts, rendered: 0, connected: false };
  window.hydraDashboard = state;

  let smoothing = Number((el('smoothing') as HTMLSelectElement).value);
  (el('smoothing') as HTMLSelectElement).addEventListener('change', (ev) => {
    smoothing = Number((ev.target as HTMLSelectElement).value);
    render();
  });

  function render(): void {
    el('header').innerHTML = renderHeader(view, data.mode, state.connected);
    el('table').innerHTML = renderTable(view);
    el('timeline').innerHTML = renderTimeline(view, Math.max(400, el('timeline').clientWidth - 140));
    el('log').innerHTML = renderLog(view);
    charts.update(view, smoothing, data.meta?.deviceMemory, data.meta?.hostMemory);
    state.rendered++;
  }

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    // Events come in bursts (a task-end, a step, the next task-start): draw at most a few times a second.
    setTimeout(() => {
      pending = false;
      render();
    }, 200);
  };

  const stopButton = el('stop') as HTMLButtonElement;
  if (data.mode === 'live' && data.canStop) {
    stopButton.hidden = false;
    stopButton.addEventListener('click', async () => {
      stopButton.disabled = true;
      const res = await fetch('stop', { method: 'POST', headers: { 'x-hydra-token': token } });
      el('stop-status').textContent = res.ok ? 'stopping: each model finishes its step and is checkpointed' : `stop refused: ${await res.text()}`;
      if (!res.ok) stopButton.disabled = false;
    });
  }

  if (data.mode === 'live') {
    // The page was served with the events up to then; the stream continues from there.
    const source = new EventSource(`events?from=${data.events.length}${token ? `&token=${encodeURIComponent(token)}` : ''}`);
    source.onopen = () => {
      state.connected = true;
      schedule();
    };
    source.onmessage = (m) => {
      applyEvent(view, JSON.parse(m.data as string) as HydraEvent);
      schedule();
    };
    source.addEventListener('end', () => {
      // The job is over and its server is closing: keep the last picture, stop reconnecting.
      source.close();
      state.connected = false;
      stopButton.disabled = true;
      schedule();
    });
    source.onerror = () => {
      state.connected = false;
      schedule();
    };
  }
  render();
}

start();
