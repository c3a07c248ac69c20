/**
 * `hydra simulate <workload.json|yaml|preset>`: run the scheduler's policies on a simulated cluster and compare
 * makespans with the optimum (MILP, small instances) or a lower bound.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { POLICY_NAMES, type PolicyName } from '../hydra/scheduler/types.js';
import { ModelState } from '../hydra/scheduler/model-state.js';
import { isPolicyName } from '../hydra/scheduler/policies/index.js';
import { simulate } from '../sim/engine.js';
import { lowerBound, taskChains } from '../sim/bounds.js';
import { solveOptimal, type OptimalResult } from '../sim/milp.js';
import { scheduleOf } from '../sim/optimality.js';
import { ganttSvg } from '../sim/gantt-svg.js';
import { formatSeconds, formatTable, resultRows } from '../sim/report.js';
import { PRESETS } from '../sim/presets.js';
import { loadWorkload, parseBandwidth, parseDevicesFlag } from '../sim/workload-file.js';
import { parseBytes } from '../hydra/units.js';
import type { SimResult, Workload } from '../sim/types.js';

interface SimulateFlags {
  devices?: string;
  policy: string;
  bandwidth?: string;
  deviceMemory?: string;
  optimal?: boolean;
  timeLimit: string;
  maxTasks: string;
  gantt?: string;
  json?: string;
  seed: string;
  prefetch: boolean;
  noise: string;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('simulate a multi-model job on a cluster: compare scheduling policies, the optimum and a lower bound')
    .argument('<workload>', `a .json/.yaml workload file or a preset: ${Object.keys(PRESETS).join(', ')}`)
    .option('--devices <n|speeds>', "device count ('8') or relative speeds ('1,1,2'); overrides the workload's devices")
    .option('--policy <name|all>', `${POLICY_NAMES.join(', ')} or all`, 'all')
    .option('--bandwidth <rate>', "host↔device bandwidth per device, e.g. '12GB/s', or 'inf'")
    .option('--device-memory <size>', "memory per device, e.g. '16GiB' (with --devices)")
    .option('--optimal', 'also solve the minimum-makespan MILP (HiGHS); small instances only')
    .option('--time-limit <seconds>', 'time limit of the MILP solve', '60')
    .option('--max-tasks <n>', 'largest instance (in tasks) given to the MILP', '60')
    .option('--gantt <file.svg>', 'draw the device timeline (one file per policy when several: name-<policy>.svg)')
    .option('--json <file>', 'write every result as JSON')
    .option('--seed <n>', 'seed of the random policy and of --noise', '0')
    .option('--no-prefetch', 'never prefetch the next shard')
    .option('--noise <fraction>', 'actual task times deviate uniformly by up to this fraction from the estimates', '0')
    .action(async (source: string, flags: SimulateFlags) => {
      await runSimulate(source, flags);
    });
}

function numberFlag(v: string, name: string, o: { integer?: boolean; min?: number; max?: number } = {}): number {
  const x = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(x) && (!o.integer || Number.isInteger(x)) && (o.min === undefined || x >= o.min) && (o.max === undefined || x < o.max);
  if (!ok) {
    const range = `${o.min !== undefined ? ` ≥ ${o.min}` : ''}${o.max !== undefined ? ` and < ${o.max}` : ''}`;
    throw new RangeError(`--${name}: expected ${o.integer ? 'an integer' : 'a number'}${range}, got '${v}'`);
  }
  return x;
}

async function runSimulate(source: string, flags: SimulateFlags): Promise<void> {
  const policies: PolicyName[] = flags.policy === 'all' ? [...POLICY_NAMES] : [checkPolicy(flags.policy)];
  const seed = numberFlag(flags.seed, 'seed', { integer: true, min: 0 });
  const noise = numberFlag(flags.noise, 'noise', { min: 0, max: 1 });
  const timeLimit = numberFlag(flags.timeLimit, 'time-limit', { min: 0.1 });
  const maxTasks = numberFlag(flags.maxTasks, 'max-tasks', { integer: true, min: 1 });
  let w: Workload = await loadWorkload(source);
  if (flags.devices !== undefined || flags.deviceMemory !== undefined) {
    const memory = flags.deviceMemory !== undefined ? parseBytes(flags.deviceMemory, '--device-memory') : Math.min(...w.devices.map((d) => d.memoryBytes));
    const devices = flags.devices !== undefined ? parseDevicesFlag(flags.devices, memory) : w.devices.map((d) => ({ ...d, memoryBytes: memory }));
    w = { ...w, devices };
  }
  if (flags.bandwidth !== undefined) w = { ...w, bandwidth: parseBandwidth(flags.bandwidth, '--bandwidth') };

  const speeds = w.devices.map((d) => d.speed);
  const bound = lowerBound(w.models, speeds);
  const tasks = w.models.reduce((a, m, i) => a + new ModelState(i, m).tasksTotal, 0);
  console.log(`workload ${w.name}: ${w.models.length} models, ${tasks} tasks${w.description ? ` — ${w.description}` : ''}`);
  console.log(`devices: ${w.devices.length} (speeds ${summarise(speeds)}), bandwidth ${Number.isFinite(w.bandwidth) ? `${(w.bandwidth / 1e9).toFixed(1)} GB/s` : 'unlimited'}`);
  console.log(`lower bound: ${formatSeconds(bound.bound)} (work/speed ${formatSeconds(bound.workBound)}, longest model ${formatSeconds(bound.chainBound)}; transfers not counted)`);

  const results: SimResult[] = [];
  for (const policy of policies) {
    const t0 = performance.now();
    results.push(simulate(w, { policy, seed, noise, prefetch: flags.prefetch, timeline: flags.gantt !== undefined }));
    if (process.stderr.isTTY) process.stderr.write(`  simulated ${policy} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }

  let optimal: OptimalResult | undefined;
  if (flags.optimal) {
    optimal = await optimum(w, tasks, bound.bound, timeLimit, maxTasks);
    if (optimal.status === 'too-large') console.log(`optimal: not attempted — ${optimal.message}`);
    else {
      const what = optimal.status === 'optimal' ? `${formatSeconds(optimal.makespan!)} (proven)` : `best ${optimal.makespan === null ? 'none' : formatSeconds(optimal.makespan)}, bound ${formatSeconds(optimal.bound)}, gap ${((optimal.gap ?? 1) * 100).toFixed(1)}% (time limit)`;
      console.log(`optimal (MILP, compute only, ${optimal.tasks} tasks, ${optimal.seconds.toFixed(1)} s): ${what}`);
      if (Number.isFinite(w.bandwidth)) console.log('  note: the MILP ignores transfers; compare with --bandwidth inf for like with like');
    }
  }
  const proven = optimal?.status === 'optimal';
  const reference = proven ? optimal!.makespan! : Math.max(bound.bound, optimal?.bound ?? 0);
  console.log('');
  console.log(formatTable(resultRows(results, reference, proven ? 'optimum' : 'bound')));

  if (flags.gantt) {
    for (const r of results) {
      const file = results.length === 1 ? flags.gantt : flags.gantt.replace(/(\.svg)?$/i, `-${r.policy}.svg`);
      writeFileSync(file, ganttSvg(r, { modelNames: w.models.map((m) => m.id) }));
      console.log(`wrote ${file}`);
    }
  }
  if (flags.json) {
    const doc = {
      workload: { name: w.name, description: w.description, models: w.models.length, tasks, devices: w.devices, bandwidth: Number.isFinite(w.bandwidth) ? w.bandwidth : 'inf' },
      lowerBound: bound,
      optimal: optimal && { ...optimal, schedule: undefined },
      results: results.map((r) => ({ ...r, timeline: undefined })),
    };
    writeFileSync(flags.json, JSON.stringify(doc, null, 2) + '\n');
    console.log(`wrote ${flags.json}`);
  }
}

async function optimum(w: Workload, tasks: number, cheapBound: number, timeLimit: number, maxTasks: number): Promise<OptimalResult> {
  if (tasks > maxTasks) {
    return { status: 'too-large', makespan: null, bound: cheapBound, gap: null, seconds: 0, tasks, binaries: 0, rows: 0, message: `${tasks} tasks > --max-tasks ${maxTasks}; ratios are to the lower bound` };
  }
  // The MILP has no transfers: its incumbent is Sharded-LRTF on the same devices with free transfers.
  const lrtf = simulate({ ...w, bandwidth: Infinity }, { policy: 'sharded-lrtf', timeline: true });
  return solveOptimal(taskChains(w.models), w.devices.map((d) => d.speed), { timeLimit, maxTasks, incumbent: scheduleOf(lrtf.timeline!) });
}

function checkPolicy(name: string): PolicyName {
  if (!isPolicyName(name)) throw new RangeError(`--policy: expected one of ${POLICY_NAMES.join(', ')} or all, got '${name}'`);
  return name;
}

function summarise(speeds: number[]): string {
  return speeds.every((s) => s === speeds[0]) ? `all ${speeds[0]}` : speeds.join(', ');
}
