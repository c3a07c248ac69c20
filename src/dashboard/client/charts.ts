/**
 * The dashboard's uPlot charts: training loss per model (smoothed, x = step), eval loss per model (points at the step
 * it was taken), and device memory over job time against the budget. A chart is rebuilt when its series change (a
 * model or device appears) and otherwise just given new data.
 */
import uPlot from 'uplot';
import { formatBytes } from '../../report/format.js';
import { lossRange, memorySeries, smooth, type JobView } from '../job-view.js';
import { modelColour } from '../timeline-svg.js';

type Data = (number | null)[][];

// uPlot draws null as a gap; a non-finite loss cannot be drawn.
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

class Chart {
  plot: uPlot | null = null;
  private key = '';

  /** The y range to show (null: uPlot's own). */
  yRange: [number, number] | null = null;

  constructor(private readonly root: HTMLElement, private readonly options: (chart: Chart) => Omit<uPlot.Options, 'width' | 'series'>) {}

  set(key: string, series: uPlot.Series[], data: Data): void {
    const width = Math.max(400, this.root.clientWidth - 10);
    if (!this.plot || key !== this.key || Math.abs(this.plot.width - width) > 20) {
      this.plot?.destroy();
      this.key = key;
      this.plot = new uPlot({ ...this.options(this), width, series: [{}, ...series] }, data as uPlot.AlignedData, this.root);
    } else this.plot.setData(data as uPlot.AlignedData);
  }
}

export class Charts {
  readonly loss: Chart;
  readonly evals: Chart;
  readonly memory: Chart;

  constructor(lossEl: HTMLElement, evalsEl: HTMLElement, memoryEl: HTMLElement) {
    const base = (title: string, x: string, y: string, yValues?: (v: number) => string, robust = false) => (chart: Chart) => ({
      title, height: 300,
      scales: { x: { time: false }, ...(robust ? { y: { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => chart.yRange ?? [min, max] } } : {}) },
      axes: [{ label: x }, { label: y, size: 70, ...(yValues ? { values: (_u: uPlot, vs: number[]) => vs.map(yValues) } : {}) }],
    });
    this.loss = new Chart(lossEl, base('training loss', 'step', 'loss', undefined, true));
    this.evals = new Chart(evalsEl, base('eval loss', 'step', 'loss', undefined, true));
    this.memory = new Chart(memoryEl, base('device memory (planned peak of the running shard)', 'job time (s)', 'bytes', formatBytes));
  }

  update(view: JobView, smoothing: number, budget: number | undefined): void {
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
  }
}
