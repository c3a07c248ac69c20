/**
 * The dashboard's uPlot charts: training loss per model (smoothed, x = step) with its early-stopping rungs marked
 * (▲ promoted, ✕ stopped), eval loss per model (points at the step it was taken), device memory over job time
 * against the device budget, and the host tier's bytes in use against its budget. A chart is rebuilt when its series change (a
 * model or device appears) and otherwise just given new data.
 */
import uPlot from 'uplot';
import { formatBytes } from '../../report/format.js';
import { hostTierSeries, lossRange, memorySeries, smooth, type JobView } from '../job-view.js';
import { modelColour } from '../../report/timeline-svg.js';

type Data = (number | null)[][];

// uPlot draws null as a gap; a non-finite loss cannot be drawn.
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

class Chart {
  plot: uPlot | null = null;
  private key = '';

  /** The y range to show (null: uPlot's own). */
  yRange: [number, number] | null = null;

  constructor(private readonly root: HTMLElement, private readonly options: (chart: Chart) => Omit<uPlot.Options, 'width' | 'series'>) {}

  /** Redraw without new data (marks drawn by a hook changed). */
  redraw(): void {
    this.plot?.redraw(false, false);
  }

  set(key: string, series: uPlot.Series[], data: Data): void {
    const width = Math.max(400, this.root.clientWidth - 10);
    if (!this.plot || key !== this.key || Math.abs(this.plot.width - width) > 20) {
      this.plot?.destroy();
      this.key = key;
      this.plot = new uPlot({ ...this.options(this), width, series: [{}, ...series] }, data as uPlot.AlignedData, this.root);
    } else this.plot.setData(data as uPlot.AlignedData);
  }
}

/** An early-stopping decision drawn on the training-loss chart: at the model's last step before the rung. */
export interface RungMark {
  model: number;
  /** Steps taken at the rung; the mark sits on the loss of step `step - 1`. */
  step: number;
  action: 'continue' | 'stop';
  loss: number;
}

export class Charts {
  readonly loss: Chart;
  readonly evals: Chart;
  readonly memory: Chart;
  readonly host: Chart;
  /** The rung marks to draw, and those the last draw put on the canvas (tests read it). */
  rungMarks: RungMark[] = [];
  drawnRungMarks: RungMark[] = [];

  constructor(lossEl: HTMLElement, evalsEl: HTMLElement, memoryEl: HTMLElement, hostEl: HTMLElement) {
    const base = (title: string, x: string, y: string, yValues?: (v: number) => string, robust = false, hooks?: uPlot.Hooks.Arrays) => (chart: Chart) => ({
      title, height: 300, ...(hooks ? { hooks } : {}),
      scales: { x: { time: false }, ...(robust ? { y: { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => chart.yRange ?? [min, max] } } : {}) },
      axes: [{ label: x }, { label: y, size: 70, ...(yValues ? { values: (_u: uPlot, vs: number[]) => vs.map(yValues) } : {}) }],
    });
    this.loss = new Chart(lossEl, base('training loss (▲ promoted / ✕ stopped at an early-stopping rung)', 'step', 'loss', undefined, true, { draw: [(u) => this.drawRungs(u)] }));
    this.evals = new Chart(evalsEl, base('eval loss', 'step', 'loss', undefined, true));
    this.memory = new Chart(memoryEl, base('device memory (planned peak of the running shard)', 'job time (s)', 'bytes', formatBytes));
    this.host = new Chart(hostEl, base('host tier: model state in use', 'job time (s)', 'bytes', formatBytes));
  }

  /** Rung marks in the model's colour over the plotting area (a hook: uPlot calls it after every draw). */
  private drawRungs(u: uPlot): void {
    const ctx = u.ctx;
    const drawn: RungMark[] = [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.lineWidth = 2 * devicePixelRatio;
    const r = 5 * devicePixelRatio;
    for (const m of this.rungMarks) {
      const x = u.valToPos(m.step - 1, 'x', true), y = u.valToPos(m.loss, 'y', true);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      ctx.strokeStyle = ctx.fillStyle = modelColour(m.model);
      ctx.beginPath();
      if (m.action === 'stop') {
        ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
        ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r);
        ctx.stroke();
      } else {
        ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r);
        ctx.closePath();
        ctx.fill();
      }
      drawn.push(m);
    }
    ctx.restore();
    this.drawnRungMarks = drawn;
  }

  update(view: JobView, smoothing: number, budget: number | undefined, hostBudget: number | undefined): void {
    const names = view.models.map((m) => m.name);
    const steps = Math.max(0, ...view.models.map((m) => m.losses.length));
    const xs = Array.from({ length: steps }, (_, i) => i);
    // One point per step event; a model with fewer steps has no point (null) past its last.
    const lossData: Data = [xs, ...view.models.map((m) => {
      const s = smooth(m.losses, smoothing);
      return xs.map((i) => finiteOrNull(s[i]));
    })];
    const line = (i: number, label: string): uPlot.Series => ({ label, stroke: modelColour(i), width: 1.5, spanGaps: false });
    this.loss.yRange = lossRange(lossData.slice(1));
    // A rung sits on the smoothed curve at the model's last step before it (a rung at step 0 has no point).
    this.rungMarks = view.models.flatMap((m) => m.rungs.map((r) => ({ model: m.index, step: r.step, action: r.action, loss: lossData[m.index + 1][r.step - 1] ?? Number.NaN })));
    this.loss.set(`loss:${names.join('\n')}`, view.models.map((m) => line(m.index, m.name)), lossData);

    const evalSteps = [...new Set(view.models.flatMap((m) => m.evals.map((e) => e.step)))].sort((a, b) => a - b);
    const evalData: Data = [evalSteps, ...view.models.map((m) => evalSteps.map((s) => finiteOrNull(m.evals.find((e) => e.step === s)?.loss)))];
    this.evals.yRange = lossRange(evalData.slice(1));
    this.evals.set(`evals:${names.join('\n')}`, view.models.map((m) => ({ ...line(m.index, m.name), spanGaps: true, points: { show: true, size: 7 } })), evalData);

    const mem = memorySeries(view);
    const limit = budget ?? view.models.find((m) => m.plan)?.plan?.budget;
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    const memSeries: uPlot.Series[] = mem.devices.map((_, d) => ({ label: `device ${d}`, stroke: `hsl(${d * 90 + 200}, 60%, 45%)`, paths: stepped, value: (_u, v) => (v === null ? '-' : formatBytes(v)) }));
    const memData: Data = [mem.times, ...mem.devices];
    if (limit !== undefined) {
      memSeries.push({ label: 'budget', stroke: '#c00', dash: [6, 4], value: (_u, v) => (v === null ? '-' : formatBytes(v)) });
      memData.push(mem.times.map(() => limit));
    }
    this.memory.set(`memory:${mem.devices.length}:${limit}`, memSeries, memData);

    const host = hostTierSeries(view);
    const hostSeries: uPlot.Series[] = [{ label: 'host tier in use', stroke: '#555', paths: stepped, value: (_u, v) => (v === null ? '-' : formatBytes(v)) }];
    const hostData: Data = [host.times, host.inUse];
    if (hostBudget !== undefined) {
      hostSeries.push({ label: 'host budget', stroke: '#c00', dash: [6, 4], value: (_u, v) => (v === null ? '-' : formatBytes(v)) });
      hostData.push(host.times.map(() => hostBudget));
    }
    this.host.set(`host:${hostBudget}`, hostSeries, hostData);
  }
}
