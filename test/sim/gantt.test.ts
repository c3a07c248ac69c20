import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../src/sim/engine.js';
import { ganttSvg } from '../../src/sim/gantt-svg.js';
import { simModel, workload } from './helpers.js';

test('Gantt SVG: a row per device, a rectangle with a tooltip per task, labels, a time axis and a legend', () => {
  const models = [simModel('a<1>', 2, 2, 1, 1e9), simModel('b', 1, 3, 1, 1e9)];
  const r = simulate(workload(models, [1, 2], 2e9), { timeline: true });
  const svg = ganttSvg(r);
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  assert.equal((svg.match(/<title>/g) ?? []).length, r.tasks, 'one rect per task');
  assert.match(svg, />device 0</);
  assert.match(svg, />device 1 \(×2\)</);
  assert.match(svg, /time \(s\)/);
  assert.match(svg, /a&lt;1&gt;/, 'model names are escaped');
  assert.ok(!svg.includes('a<1>'));
  assert.match(svg, />FL1</, 'wide tasks are labelled with phase and shard');
  assert.throws(() => ganttSvg(simulate(workload(models, [1]))), /without timeline: true/);
});

test('Gantt SVG: long runs are drawn per pixel column, so the file stays small', () => {
  const models = Array.from({ length: 6 }, (_, i) => simModel(`m${i}`, 3, 400, 0.1));
  const r = simulate(workload(models, [1, 1, 1]), { timeline: true });
  const svg = ganttSvg(r, { width: 600 });
  assert.ok(r.tasks > 10000);
  assert.ok((svg.match(/<rect/g) ?? []).length <= 3 * 600 + 20, 'bounded by devices × pixels');
});
