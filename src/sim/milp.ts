/**
 * The optimal baseline: minimum makespan over the same tasks as the scheduler (each model a chain of tasks, one task
 * per device at a time, any task on any device, task j on device d taking w_j / v_d), as a mixed-integer program
 * solved by HiGHS (the `highs` package, WebAssembly) under a time limit.
 *
 * Formulation: disjunctive with big-M (chosen over time-indexed because task times are real numbers and instances
 * are small; a time grid would either round them or explode).
 *   variables  C ≥ 0 (makespan), s_j ≥ 0 (start of task j), x_jd ∈ {0,1} (j runs on d),
 *              y_jk ∈ {0,1} for each pair j < k of tasks of DIFFERENT models (1: j before k if they share a device)
 *   minimise   C
 *   s.t.       Σ_d x_jd = 1                                              each task on one device
 *              s_next(j) ≥ s_j + Σ_d (w_j/v_d) x_jd                      chain order within a model
 *              C ≥ s_j + Σ_d (w_j/v_d) x_jd + tail_j / v_max               end of chain (tail_j: work after j)
 *              s_j + w_j/v_d ≤ s_k + M(1 − y_jk) + M(2 − x_jd − x_kd)   ∀d  j before k on a shared device
 *              s_k + w_k/v_d ≤ s_j + M y_jk       + M(2 − x_jd − x_kd)   ∀d  or k before j
 *   strengthening (all valid): C ≥ Σ_j (w_j/v_d) x_jd per device (its load); s_j ≥ head_j / v_max (work before j);
 *              C ≥ the cheap lower bound; M = C's upper bound = the heuristic's makespan, given as the incumbent;
 *              devices of equal speed are interchangeable, so the first task of model m may only use the first m+1
 *              of them (relabel devices by the first model they serve) — this removes most symmetric branches.
 * Same-model pairs need no disjunction: the chain already orders them.
 */
import { boundFromWork } from './bounds.js';

export interface ScheduledTask {
  model: number;
  /** Position of the task in its model's chain. */
  index: number;
  device: number;
  start: number;
  end: number;
}

export interface OptimalResult {
  status: 'optimal' | 'time-limit' | 'too-large' | 'error';
  /** Best schedule's makespan (the optimum when status is 'optimal'); null if none. */
  makespan: number | null;
  /** Best proven lower bound on the optimum. */
  bound: number;
  /** (makespan − bound) / makespan; 0 when proven optimal. */
  gap: number | null;
  seconds: number;
  tasks: number;
  binaries: number;
  rows: number;
  schedule?: ScheduledTask[];
  message?: string;
}

export interface MilpOptions {
  /** Seconds (default 30). */
  timeLimit?: number;
  /** Refuse instances with more tasks (default 60): the model grows with tasks² × devices. */
  maxTasks?: number;
  /** A feasible schedule (e.g. Sharded-LRTF's): its makespan becomes M and the solver's first incumbent. */
  incumbent?: ScheduledTask[];
  /** Relative gap at which the solver stops (default 1e-6). */
  relativeGap?: number;
}

type HighsModule = import('highs').Highs;
type Loader = () => Promise<HighsModule>;
let highsPromise: Promise<HighsModule> | undefined;

/** Loaded once, on first use (the WebAssembly module takes a moment). */
async function loadHighs(): Promise<HighsModule> {
  // The package ships ESM at runtime but CommonJS-flavoured typings, so the default export is found defensively.
  highsPromise ??= import('highs').then((m: unknown) => {
    const d = (m as { default: unknown }).default;
    const loader = (typeof d === 'function' ? d : (d as { default: unknown }).default) as Loader;
    return loader();
  });
  return highsPromise;
}

interface Row {
  idx: number[];
  val: number[];
  lo: number;
  hi: number;
}

export async function solveOptimal(chains: readonly (readonly number[])[], speeds: readonly number[], o: MilpOptions = {}): Promise<OptimalResult> {
  const t0 = performance.now();
  const D = speeds.length;
  const tasks: { model: number; index: number; w: number; head: number; tail: number }[] = [];
  chains.forEach((chain, model) => {
    const total = chain.reduce((a, b) => a + b, 0);
    let head = 0;
    chain.forEach((w, index) => {
      tasks.push({ model, index, w, head, tail: total - head - w });
      head += w;
    });
  });
  const J = tasks.length;
  const vmax = Math.max(...speeds);
  const cheap = boundFromWork(chains.map((c) => c.reduce((a, b) => a + b, 0)), speeds).bound;
  const base = { bound: cheap, tasks: J, binaries: 0, rows: 0 };
  if (J > (o.maxTasks ?? 60)) {
    return { ...base, status: 'too-large', makespan: null, gap: null, seconds: 0, message: `${J} tasks > maxTasks ${o.maxTasks ?? 60}: only the cheap lower bound is reported` };
  }
  const incumbent = o.incumbent ? relabelDevices(o.incumbent, speeds) : undefined;
  const M = incumbent ? Math.max(...incumbent.map((t) => t.end)) : chains.reduce((a, c) => a + c.reduce((x, y) => x + y, 0), 0) / Math.min(...speeds);

  // Columns: C, s_j, x_jd, y_p.
  const colC = 0;
  const colS = (j: number) => 1 + j;
  const colX = (j: number, d: number) => 1 + J + j * D + d;
  const pairs: [number, number][] = [];
  for (let j = 0; j < J; j++) for (let k = j + 1; k < J; k++) if (tasks[j].model !== tasks[k].model) pairs.push([j, k]);
  const colY = (p: number) => 1 + J + J * D + p;
  const numCols = 1 + J + J * D + pairs.length;
  const lower = new Float64Array(numCols);
  const upper = new Float64Array(numCols).fill(1);
  const integrality = new Int32Array(numCols);
  lower[colC] = cheap;
  upper[colC] = M;
  for (let j = 0; j < J; j++) {
    lower[colS(j)] = tasks[j].head / vmax;
    upper[colS(j)] = M;
  }
  for (let c = colX(0, 0); c < numCols; c++) integrality[c] = 1;
  // Symmetry breaking among equal-speed devices (see the header).
  const rankInGroup = speeds.map((v, d) => speeds.slice(0, d).filter((u) => u === v).length);
  tasks.forEach((t, j) => {
    if (t.index === 0) for (let d = 0; d < D; d++) if (rankInGroup[d] > t.model) upper[colX(j, d)] = 0;
  });

  const rows: Row[] = [];
  const dur = (j: number, d: number) => tasks[j].w / speeds[d];
  for (let j = 0; j < J; j++) {
    rows.push({ idx: speeds.map((_, d) => colX(j, d)), val: speeds.map(() => 1), lo: 1, hi: 1 });
    const next = j + 1 < J && tasks[j + 1].model === tasks[j].model ? j + 1 : -1;
    if (next >= 0) {
      rows.push({ idx: [colS(next), colS(j), ...speeds.map((_, d) => colX(j, d))], val: [1, -1, ...speeds.map((_, d) => -dur(j, d))], lo: 0, hi: Infinity });
    }
    rows.push({ idx: [colC, colS(j), ...speeds.map((_, d) => colX(j, d))], val: [1, -1, ...speeds.map((_, d) => -dur(j, d))], lo: tasks[j].tail / vmax, hi: Infinity });
  }
  for (let d = 0; d < D; d++) {
    rows.push({ idx: [colC, ...tasks.map((_, j) => colX(j, d))], val: [1, ...tasks.map((_, j) => -dur(j, d))], lo: 0, hi: Infinity });
  }
  pairs.forEach(([j, k], p) => {
    for (let d = 0; d < D; d++) {
      const idx = [colS(j), colS(k), colY(p), colX(j, d), colX(k, d)];
      rows.push({ idx, val: [1, -1, M, M, M], lo: -Infinity, hi: 3 * M - dur(j, d) });
      rows.push({ idx, val: [-1, 1, -M, M, M], lo: -Infinity, hi: 2 * M - dur(k, d) });
    }
  });

  const starts = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (starts[i + 1] = starts[i] + r.idx.length));
  const highs = await loadHighs();
  const model = highs.createModel({
    numCols,
    numRows: rows.length,
    colCost: Float64Array.from({ length: numCols }, (_, c) => (c === colC ? 1 : 0)),
    colLower: lower,
    colUpper: upper.map((u) => (u === Infinity ? highs.infinity : u)),
    rowLower: rows.map((r) => (r.lo === -Infinity ? -highs.infinity : r.lo)),
    rowUpper: rows.map((r) => (r.hi === Infinity ? highs.infinity : r.hi)),
    matrix: { format: 'csr', numRows: rows.length, numCols, starts, indices: Int32Array.from(rows.flatMap((r) => r.idx)), values: Float64Array.from(rows.flatMap((r) => r.val)) },
    integrality,
  });
  const sizes = { tasks: J, binaries: numCols - 1 - J, rows: rows.length };
  try {
    model.options.set({ output_flag: false, time_limit: o.timeLimit ?? 30, mip_rel_gap: o.relativeGap ?? 1e-6, random_seed: 0 });
    if (incumbent) model.setSolution({ colValue: incumbentColumns(incumbent, tasks, pairs, numCols, D, colX, colS, colY) });
    model.run();
    const status = model.getModelStatus();
    const sol = model.getSolution().colValue;
    const optimal = status === highs.constants.modelStatus.optimal;
    const objective = model.getObjectiveValue();
    const hasSolution = Number.isFinite(objective) && objective < highs.infinity;
    const dual = Number(model.info.get('mip_dual_bound'));
    const bound = optimal ? objective : Math.max(cheap, Number.isFinite(dual) ? dual : cheap);
    const makespan = hasSolution ? objective : null;
    const result: OptimalResult = {
      ...sizes,
      status: optimal ? 'optimal' : status === highs.constants.modelStatus.timeLimit ? 'time-limit' : 'error',
      makespan,
      bound,
      gap: makespan === null ? null : optimal ? 0 : Math.max(0, (makespan - bound) / makespan),
      seconds: (performance.now() - t0) / 1000,
    };
    if (!optimal && result.status === 'error') result.message = `HiGHS model status ${status}`;
    if (hasSolution) {
      result.schedule = tasks.map((t, j) => {
        let device = 0;
        for (let d = 1; d < D; d++) if (sol[colX(j, d)] > sol[colX(j, device)]) device = d;
        const start = sol[colS(j)];
        return { model: t.model, index: t.index, device, start, end: start + dur(j, device) };
      });
    }
    return result;
  } finally {
    model.dispose();
  }
}

/** The incumbent schedule as a full column vector (pairs on different devices get any consistent order). */
function incumbentColumns(
  schedule: ScheduledTask[],
  tasks: { model: number; index: number }[],
  pairs: [number, number][],
  numCols: number,
  D: number,
  colX: (j: number, d: number) => number,
  colS: (j: number) => number,
  colY: (p: number) => number,
): Float64Array {
  const at = new Map(schedule.map((t) => [`${t.model}/${t.index}`, t]));
  const col = new Float64Array(numCols);
  const placed = tasks.map((t) => {
    const s = at.get(`${t.model}/${t.index}`);
    if (!s || s.device < 0 || s.device >= D) throw new Error(`incumbent: no placement for task ${t.index} of model ${t.model}`);
    return s;
  });
  col[0] = Math.max(...placed.map((s) => s.end));
  placed.forEach((s, j) => {
    col[colS(j)] = s.start;
    col[colX(j, s.device)] = 1;
  });
  pairs.forEach(([j, k], p) => (col[colY(p)] = placed[j].start <= placed[k].start ? 1 : 0));
  return col;
}

/**
 * The same schedule with equal-speed devices renamed in the order of the first model whose first task they run, so
 * that it satisfies the symmetry-breaking bounds (device ranks within a speed group never exceed the model index).
 */
export function relabelDevices(schedule: readonly ScheduledTask[], speeds: readonly number[]): ScheduledTask[] {
  const firstModel = speeds.map(() => Infinity);
  for (const t of schedule) if (t.index === 0) firstModel[t.device] = Math.min(firstModel[t.device], t.model);
  const rename = speeds.map((_, d) => d);
  for (const v of new Set(speeds)) {
    const group = speeds.map((u, d) => (u === v ? d : -1)).filter((d) => d >= 0);
    const order = [...group].sort((a, b) => firstModel[a] - firstModel[b] || a - b);
    order.forEach((d, r) => (rename[d] = group[r]));
  }
  return schedule.map((t) => ({ ...t, device: rename[t.device] }));
}
