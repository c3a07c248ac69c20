/**
 * bench:sim — the scheduler's policies on simulated clusters (src/sim), three studies in one run:
 *
 *   presets      paper-grid, hetero, large, grid48 under every policy: makespan, utilisation, and the ratio to the
 *                lower bound max(work / Σ speed, longest model / fastest speed). These jobs have 10⁴–10⁵ tasks, far
 *                beyond an exact solver, so the bound stands in for the optimum: ratio − 1 is an UPPER bound on the
 *                optimality gap. Each preset runs with its transfers (12 GB/s per device) and compute-only.
 *   optimality   random small instances (3–5 models, 1–3 shards, 1–2 steps, 2–3 devices, ≤ 20 tasks) solved exactly
 *                by the MILP (HiGHS, disjunctive formulation, TIME_LIMIT s each), compute only, every policy's
 *                makespan / optimum. Two sets: identical devices (the paper's setting) and speeds drawn from
 *                {1, 1.5, 2}. Instances whose optimum equals the cheap bound are "easy" (any schedule that keeps the
 *                longest model busy wins); the gaps are also reported over the others.
 *   scaling      strong scaling of the 48-model grid (the paper grid × 4 seeds, 24 steps each, GPT-2 XL on 16 GiB
 *                devices, transfers at 12 GB/s) from 1 to 8 devices per policy; and the case the paper names, fewer
 *                models than devices (4 models, 1–8 devices), where one task per model in flight bounds the speed-up.
 *
 * Everything is simulated (deterministic): only the MILP solve times depend on the machine.
 */
import { POLICY_NAMES, type PolicyName } from '../src/hydra/scheduler/types.js';
import { simulate } from '../src/sim/engine.js';
import { lowerBound } from '../src/sim/bounds.js';
import { compareWithOptimal, randomInstance, SMALL, type InstanceComparison } from '../src/sim/optimality.js';
import { paperGrid, PRESETS } from '../src/sim/presets.js';
import type { Workload } from '../src/sim/types.js';
import { machine, table, writeJson } from './common.js';

const INSTANCES = Number(process.env.INSTANCES ?? 24);
const TIME_LIMIT = Number(process.env.TIME_LIMIT ?? 30);
const MAX_DEVICES = Number(process.env.MAX_DEVICES ?? 8);
const SCALING_POLICIES: PolicyName[] = ['sharded-lrtf', 'model-lrtf', 'pipeline', 'round-robin'];
const f3 = (x: number) => x.toFixed(3);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

// ---- presets ----------------------------------------------------------------------------------------------------
console.log('== presets: makespan / lower bound (an upper bound on the optimality gap) ==');
const presets: Record<string, unknown> = {};
for (const name of ['paper-grid', 'hetero', 'large', 'grid48']) {
  const w = await PRESETS[name]();
  const bound = lowerBound(w.models, w.devices.map((d) => d.speed));
  const rows: Record<string, string>[] = [];
  const perPolicy: Record<string, unknown> = {};
  for (const policy of POLICY_NAMES) {
    const r = simulate(w, { policy });
    const c = simulate({ ...w, bandwidth: Infinity }, { policy });
    perPolicy[policy] = {
      makespan: r.makespan,
      ratioToBound: r.makespan / bound.bound,
      utilisation: r.utilisation,
      paramWaitFraction: r.transfers.stallSeconds / (r.makespan * r.devices.length),
      prefetchHits: r.transfers.prefetchHits,
      copies: r.tasks - r.transfers.resident,
      computeOnlyMakespan: c.makespan,
      computeOnlyRatioToBound: c.makespan / bound.bound,
    };
    rows.push({ policy, makespan_s: r.makespan.toFixed(0), '× bound': f3(r.makespan / bound.bound), utilisation: pct(r.utilisation), 'compute-only × bound': f3(c.makespan / bound.bound) });
  }
  console.log(`${name}: ${w.description} — bound ${bound.bound.toFixed(0)} s`);
  console.log(table(rows));
  presets[name] = { description: w.description, models: w.models.length, devices: w.devices.length, lowerBound: bound, policies: perPolicy };
}

// ---- optimality -------------------------------------------------------------------------------------------------
interface SetSummary {
  instances: number;
  solvedOptimal: number;
  easy: number;
  policies: Record<string, { meanGap: number; worstGap: number; worstInstance: string; meanGapHard: number | null; worstGapHard: number | null }>;
  solveSeconds: { total: number; max: number };
}

async function optimalitySet(hetero: boolean): Promise<{ summary: SetSummary; instances: unknown[] }> {
  const comps: InstanceComparison[] = [];
  /** Easy: the optimum equals the cheap bound (total work spread evenly, or the longest model alone). */
  const cheap = new Map<InstanceComparison, number>();
  for (let seed = 0; seed < INSTANCES; seed++) {
    const w = randomInstance(seed, { ...SMALL, hetero });
    const c = await compareWithOptimal(w, POLICY_NAMES, TIME_LIMIT);
    comps.push(c);
    cheap.set(c, lowerBound(w.models, c.speeds).bound);
  }
  const solved = comps.filter((c) => c.optimal.status === 'optimal');
  if (solved.length === 0) throw new Error(`optimality study (${hetero ? 'mixed speeds' : 'identical devices'}): no instance was solved to optimality within ${TIME_LIMIT} s; raise TIME_LIMIT`);
  const easy = solved.filter((c) => c.optimal.makespan! <= cheap.get(c)! * (1 + 1e-9));
  const hard = solved.filter((c) => !easy.includes(c));
  const policies: SetSummary['policies'] = {};
  for (const p of POLICY_NAMES) {
    const gaps = solved.map((c) => c.policies[p].ratio - 1);
    const hardGaps = hard.map((c) => c.policies[p].ratio - 1);
    const worst = gaps.indexOf(Math.max(...gaps));
    policies[p] = {
      meanGap: mean(gaps),
      worstGap: gaps[worst],
      worstInstance: solved[worst].name,
      meanGapHard: hardGaps.length ? mean(hardGaps) : null,
      worstGapHard: hardGaps.length ? Math.max(...hardGaps) : null,
    };
  }
  const secs = comps.map((c) => c.optimal.seconds);
  return {
    summary: { instances: comps.length, solvedOptimal: solved.length, easy: easy.length, policies, solveSeconds: { total: secs.reduce((a, b) => a + b, 0), max: Math.max(...secs) } },
    instances: comps.map((c) => ({
      name: c.name,
      models: c.models,
      tasks: c.tasks,
      speeds: c.speeds,
      status: c.optimal.status,
      optimum: c.optimal.makespan,
      bound: c.optimal.bound,
      solveSeconds: c.optimal.seconds,
      easy: easy.includes(c),
      ratios: Object.fromEntries(Object.entries(c.policies).map(([p, r]) => [p, r.ratio])),
    })),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

console.log(`\n== optimality: ${INSTANCES} random small instances per set, MILP time limit ${TIME_LIMIT} s ==`);
const optimality: Record<string, unknown> = {};
for (const hetero of [false, true]) {
  const name = hetero ? 'mixed-speeds' : 'identical-devices';
  const { summary, instances } = await optimalitySet(hetero);
  optimality[name] = { ...summary, instanceList: instances };
  console.log(`${name}: ${summary.solvedOptimal}/${summary.instances} solved to optimality (${summary.easy} easy: optimum = cheap bound), MILP ${summary.solveSeconds.total.toFixed(1)} s total, ${summary.solveSeconds.max.toFixed(1)} s max`);
  console.log(
    table(
      POLICY_NAMES.map((p) => {
        const s = summary.policies[p];
        return { policy: p, 'mean gap': pct(s.meanGap), 'worst gap': pct(s.worstGap), 'worst on': s.worstInstance, 'mean gap (not easy)': s.meanGapHard === null ? '-' : pct(s.meanGapHard), 'worst (not easy)': s.worstGapHard === null ? '-' : pct(s.worstGapHard) };
      }),
    ),
  );
}
const lrtfIdentical = (optimality['identical-devices'] as SetSummary).policies['sharded-lrtf'];
const claim = { meanWithin5pct: lrtfIdentical.meanGap <= 0.05, worstWithin15pct: lrtfIdentical.worstGap <= 0.15 };
console.log(`claim (identical devices): Sharded-LRTF mean gap ${pct(lrtfIdentical.meanGap)} (≤ 5%: ${claim.meanWithin5pct}), worst ${pct(lrtfIdentical.worstGap)} (≤ 15%: ${claim.worstWithin15pct})`);

// ---- scaling ----------------------------------------------------------------------------------------------------
function scaling(make: (devices: number) => Workload, label: string) {
  const out: Record<string, { devices: number; makespan: number; speedup: number; utilisation: number }[]> = {};
  const rows: Record<string, string>[] = [];
  for (let D = 1; D <= MAX_DEVICES; D++) rows.push({ devices: String(D) });
  for (const policy of SCALING_POLICIES) {
    out[policy] = [];
    let base = 0;
    for (let D = 1; D <= MAX_DEVICES; D++) {
      const r = simulate(make(D), { policy });
      if (D === 1) base = r.makespan;
      out[policy].push({ devices: D, makespan: r.makespan, speedup: base / r.makespan, utilisation: r.utilisation });
      rows[D - 1][policy] = `${(base / r.makespan).toFixed(2)}×`;
    }
  }
  console.log(label);
  console.log(table(rows));
  return out;
}

console.log('\n== strong scaling (speed-up over the same policy on 1 device; transfers at 12 GB/s) ==');
// Built before the synchronous study (the first build dry-runs GPT-2 XL's plans; the rest come from the cache).
const deviceCounts = Array.from({ length: MAX_DEVICES }, (_, i) => i + 1);
const grids48 = await Promise.all(deviceCounts.map((D) => paperGrid(D, 24, 4)));
const grids12 = await Promise.all(deviceCounts.map((D) => paperGrid(D, 24, 1)));
const grid48 = scaling((D) => grids48[D - 1], '48-model grid (GPT-2 XL, batch {16, 8} × 6 lr × 4 seeds, 24 steps each):');
const few = (D: number): Workload => {
  const w = grids12[D - 1];
  return { ...w, name: 'grid4', description: '4 GPT-2 XL configurations (batch 16), 24 steps each', models: w.models.filter((m) => m.id.includes('-b16-')).slice(0, 4) };
};
const fewer = scaling(few, '4 models (GPT-2 XL, batch 16, 24 steps each) — fewer models than devices from 5 on; the bound is min(devices, 4):');
const s8 = grid48['sharded-lrtf'][MAX_DEVICES - 1].speedup;
console.log(`sharded-lrtf on ${MAX_DEVICES} devices: ${s8.toFixed(2)}× (target ≥ 7×: ${s8 >= 7})`);

writeJson('bench/results/sim.json', {
  presets,
  optimality: { timeLimitSeconds: TIME_LIMIT, shape: SMALL, note: 'compute only (the MILP has no transfers); ratio = policy makespan / proven optimum; easy = optimum equals the cheap lower bound', claim, sets: optimality },
  scaling: { grid48, fewerModelsThanDevices: fewer, note: 'speed-up = makespan of the same policy on 1 device / makespan on D devices; transfers at 12 GB/s, 16 GiB devices' },
  machine: machine(),
});
