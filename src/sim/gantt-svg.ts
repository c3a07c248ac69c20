/**
 * `hydra simulate --gantt`: a simulated run's device timeline, drawn by the same code as the dashboard's
 * (src/report/timeline-svg.ts).
 */
import { timelineSvg } from '../report/timeline-svg.js';
import type { SimResult, TimelineEntry } from './types.js';

export interface GanttOptions {
  title?: string;
  /** Width of the plot area in pixels (default 1200). */
  width?: number;
  /** Names of the models by index (default: from the timeline). */
  modelNames?: string[];
}

export function ganttSvg(result: SimResult, o: GanttOptions = {}): string {
  const timeline = result.timeline;
  if (!timeline) throw new Error('ganttSvg: the simulation was run without timeline: true');
  return timelineSvg({
    title: o.title ?? `${result.workload} — ${result.policy}: makespan ${fmt(result.makespan)} s, utilisation ${(result.utilisation * 100).toFixed(1)}%`,
    devices: result.devices.map((dev, d) => `device ${d}${dev.speed !== 1 ? ` (×${dev.speed})` : ''}`),
    modelNames: o.modelNames ?? namesOf(timeline),
    bars: timeline.map((t) => ({ device: t.device, model: t.model, label: `${t.kind}${t.shard}`, assigned: t.assigned, start: t.start, end: t.end })),
    makespan: result.makespan,
    width: o.width,
  });
}

function namesOf(timeline: readonly TimelineEntry[]): string[] {
  const names: string[] = [];
  for (const t of timeline) names[t.model] ??= t.modelId;
  return names;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
