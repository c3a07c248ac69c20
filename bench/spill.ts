/**
 * bench:spill — what sharding + spilling costs: a GPT-2 trained on ONE cpu device, unsharded (budget large enough
 * for one shard) vs a budget that forces several shards, same steps, same data, both through train(), side by side
 * in one run. The sharded run recomputes the forward of every shard but the last (gradient checkpointing at shard
 * boundaries) and copies parameters, gradients and boundary activations between host and device every task. A
 * third run cuts the same shards with activation offload (`activations: 'offload'`): forward tasks stash what their
 * shard's backward reads in the host tier and backward tasks copy it back instead of recomputing.
 *
 * Two models:
 * - `gpt-mini` (the engine bench's model, B 8 × T 256, untied): the fused, row-chunked LM head needs its weight, its
 *   gradient and one ≤ 28 MiB chunk of logits (≈ 128 MiB at train time) instead of B·T·50257 logits (≈ 495 MiB), so
 *   200 MiB cuts it into 4 shards (embed | h.0–h.1 | h.2–h.3, ln_f | lm_head; the same down to 178 MiB).
 * - `gpt-wide` (12 layers, n_embd 512, B 2 × T 128): the blocks carry most of the memory, so a budget just above the
 *   head forces ≥ 4 shards.
 *
 * The baseline pays nothing for spilling: the whole model resident on one cpu backend of the same threads, trained by
 * LocalTrainer (no host tier, no copies). The unsharded train() run is kept as a second column: it already copies
 * parameters in and gradients out every task, so a ratio against it understates what spilling costs. The four runs
 * are interleaved REPEATS times (default 3), in alternating order; figures are the median and the range over the
 * repetitions.
 */
import { train } from '../src/hydra/job/train.js';
import { createCpuBackend } from '../src/backend/cpu.js';
import { buildGpt2 } from '../src/nn/gpt2.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { CONSTANT_LR } from '../src/optim/schedule.js';
import type { HydraEvent, TrainTask } from '../src/hydra/api.js';
import { gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatPlan } from '../src/hydra/plan/plan-cache.js';
import { formatSpread, machine, randomTokens, repeats, spread, table, writeJson } from './common.js';

const threads = Number(process.env.THREADS ?? 1);
const steps = Number(process.env.STEPS ?? 9);
const REPEATS = repeats();

interface Case {
  name: string;
  config: Gpt2Config;
  B: number;
  T: number;
  /** Budget for the sharded run. */
  budget: string;
}

const CASES: Case[] = [
  { name: 'gpt-mini', config: gpt2Config('gpt2-mini', { dropout: 0, tie: false }), B: 8, T: 256, budget: process.env.MINI_BUDGET ?? '200MiB' },
  {
    name: 'gpt-wide',
    config: gpt2Config('gpt2-mini', { n_layer: 12, n_head: 8, n_embd: 512, n_ctx: 128, dropout: 0, tie: false }),
    B: 2,
    T: 128,
    budget: process.env.WIDE_BUDGET ?? '350MiB',
  },
];

function task(c: Case): TrainTask {
  return { name: c.name, model: gpt2Arch(c.config), optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, clipNorm: 1, train: randomTokens(c.config.vocab_size, c.B, c.T, 100), steps, seed: 1 };
}

/** The process's CPU seconds (user + system, every thread: the device workers are worker threads of this process). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function run(c: Case, deviceMemory: string, activations: 'recompute' | 'offload' = 'recompute') {
  // Steady state: the first step pays first-touch page faults on freshly allocated device memory; count from step 2.
  // Wall time on the one device, from the first task of step 2 to the end of the last: waiting for copies that did
  // not overlap compute counts (device-seconds alone would leave it out). CPU time over the same span beside it: on a
  // loaded machine it counts the work done, not the waits for a core. Seconds per task (kind and shard, as the worker
  // timed it: its copies, compute and optimizer steps) say where the time goes.
  let steadySeconds = 0, from = -1, to = -1, cpuFrom = 0, cpuTo = 0;
  const tasks: Record<string, number> = {};
  const onEvent = (e: HydraEvent) => {
    if (e.type === 'task-start' && e.step >= 1 && from < 0) {
      from = e.t;
      cpuFrom = cpuSeconds();
    }
    if (e.type === 'task-end' && e.step >= 1) {
      steadySeconds += e.computeSeconds;
      to = e.t;
      cpuTo = cpuSeconds();
      const k = `${e.kind}${e.shard}`;
      tasks[k] = (tasks[k] ?? 0) + e.computeSeconds;
    }
  };
  const r = await train([task(c)], { devices: `cpu:1x${threads}`, deviceMemory, planDir: null, prefetch: true, onEvent, activations });
  const m = r.models[0];
  if (m.status !== 'done') throw new Error(`${c.name} at ${deviceMemory}: ${m.status} ${m.reason}`);
  if (activations === 'offload' && !m.activationStashBytes) throw new Error(`${c.name} at ${deviceMemory}: activation offload was not granted`);
  return { plan: m.plan, losses: m.losses, stashBytes: m.activationStashBytes ?? 0, wallSeconds: to - from, cpuSeconds: cpuTo - cpuFrom, deviceSeconds: steadySeconds, tasks, bytes: r.bytesMoved, overlap: r.overlapSeconds };
}

/**
 * The true baseline: the whole model resident on one backend, trained step by step by LocalTrainer with the same
 * recipe (train() defaults: constant learning rate). Timed like the train() runs: steps 2.. only.
 */
async function resident(c: Case) {
  const t0 = task(c);
  const be = createCpuBackend({ threads });
  const model = buildGpt2(c.config);
  const trainer = await LocalTrainer.create(be, model, initModel(model, t0.seed), { optimizer: t0.optimizer, schedule: CONSTANT_LR, clipNorm: t0.clipNorm!, totalSteps: steps, seed: t0.seed });
  const losses: number[] = [];
  let seconds = 0, cpu = 0;
  try {
    for (let s = 0; s < steps; s++) {
      const b = t0.train.batch(0, s);
      const a = performance.now(), ca = cpuSeconds();
      losses.push((await trainer.trainStep({ ...b, B: c.B, T: c.T })).loss);
      if (s >= 1) {
        seconds += (performance.now() - a) / 1000;
        cpu += cpuSeconds() - ca;
      }
    }
  } finally {
    trainer.dispose();
    be.dispose();
  }
  return { losses, wallSeconds: seconds, cpuSeconds: cpu };
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((l, i) => l === b[i]);
const results = [];
for (const c of (process.env.CASES?.split(',') ?? CASES.map((x) => x.name)).map((n) => CASES.find((x) => x.name === n)!)) {
  const wall = { resident: [] as number[], unsharded: [] as number[], sharded: [] as number[], offload: [] as number[] };
  const cpu = { resident: [] as number[], unsharded: [] as number[], sharded: [] as number[], offload: [] as number[] };
  const vsLocal: number[] = [], vsUnsharded: number[] = [], cpuVsLocal: number[] = [], cpuVsUnsharded: number[] = [], offloadVsLocal: number[] = [], offloadVsUnsharded: number[] = [], offloadCpuVsLocal: number[] = [];
  const tasks = { unsharded: [] as Record<string, number>[], sharded: [] as Record<string, number>[], offload: [] as Record<string, number>[] };
  let bitwise = true, shards = 0, bytes = { unsharded: 0, sharded: 0, offload: 0 }, overlap: number[] = [], planShards: string[] = [], stashBytes = 0;
  for (let r = 0; r < REPEATS; r++) {
    // The order alternates between repetitions (ABCD, DCBA) so that a machine drifting faster or slower over a
    // repetition does not favour the runs that come first.
    let base!: Awaited<ReturnType<typeof resident>>, big!: Awaited<ReturnType<typeof run>>, small!: typeof big, off!: typeof big;
    const order = [async () => (base = await resident(c)), async () => (big = await run(c, '16GiB')), async () => (small = await run(c, c.budget)), async () => (off = await run(c, c.budget, 'offload'))];
    for (const go of r % 2 === 0 ? order : order.reverse()) await go();
    if (r === 0) console.log(formatPlan(small.plan));
    wall.resident.push(base.wallSeconds);
    wall.unsharded.push(big.wallSeconds);
    wall.sharded.push(small.wallSeconds);
    cpu.resident.push(base.cpuSeconds);
    cpu.unsharded.push(big.cpuSeconds);
    cpu.sharded.push(small.cpuSeconds);
    wall.offload.push(off.wallSeconds);
    cpu.offload.push(off.cpuSeconds);
    offloadVsLocal.push(off.wallSeconds / base.wallSeconds);
    offloadVsUnsharded.push(off.wallSeconds / big.wallSeconds);
    offloadCpuVsLocal.push(off.cpuSeconds / base.cpuSeconds);
    tasks.offload.push(off.tasks);
    stashBytes = off.stashBytes;
    vsLocal.push(small.wallSeconds / base.wallSeconds);
    vsUnsharded.push(small.wallSeconds / big.wallSeconds);
    cpuVsLocal.push(small.cpuSeconds / base.cpuSeconds);
    cpuVsUnsharded.push(small.cpuSeconds / big.cpuSeconds);
    tasks.unsharded.push(big.tasks);
    tasks.sharded.push(small.tasks);
    overlap.push(small.overlap);
    bitwise &&= same(base.losses, big.losses) && same(base.losses, small.losses) && same(base.losses, off.losses);
    if (off.plan.shards.length !== small.plan.shards.length) throw new Error(`${c.name}: the offload run cut ${off.plan.shards.length} shards, the recompute run ${small.plan.shards.length}`);
    shards = small.plan.shards.length;
    planShards = small.plan.shards.map((x) => x.layerNames.join('+'));
    bytes = { unsharded: big.bytes, sharded: small.bytes, offload: off.bytes };
    console.log(
      `${c.name} repetition ${r + 1}/${REPEATS}: wall (CPU) seconds resident ${base.wallSeconds.toFixed(2)} (${base.cpuSeconds.toFixed(2)}), ` +
        `unsharded train() ${big.wallSeconds.toFixed(2)} (${big.cpuSeconds.toFixed(2)}), ${shards} shards ${small.wallSeconds.toFixed(2)} (${small.cpuSeconds.toFixed(2)}), ` +
        `${shards} shards offloaded ${off.wallSeconds.toFixed(2)} (${off.cpuSeconds.toFixed(2)}); ` +
        `sharded tasks ${Object.entries(small.tasks).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`,
    );
  }
  // Per task, the median over repetitions of its seconds summed over steps 2..; the recompute is what the F tasks
  // cost (each B task of a shard runs that shard's forward again).
  const taskMedians = (runs: Record<string, number>[]) => Object.fromEntries(Object.keys(runs[0]).map((k) => [k, spread(runs.map((t) => t[k]))]));
  const shardedTasks = taskMedians(tasks.sharded);
  const recompute = spread(tasks.sharded.map((t) => Object.entries(t).filter(([k]) => /^F\d/.test(k)).reduce((a, [, v]) => a + v, 0)));
  results.push({
    model: c.name,
    shape: `${c.config.n_layer} layers, n_embd ${c.config.n_embd}, ${c.config.n_head} heads, vocab ${c.config.vocab_size}, untied; batch ${c.B}x${c.T}`,
    budget: c.budget,
    shards,
    plan: planShards,
    resident_s: spread(wall.resident),
    unsharded_s: spread(wall.unsharded),
    sharded_s: spread(wall.sharded),
    offload_s: spread(wall.offload),
    offload_ratio_vs_resident: spread(offloadVsLocal),
    offload_ratio_vs_unsharded_train: spread(offloadVsUnsharded),
    offload_cpu_ratio_vs_resident: spread(offloadCpuVsLocal),
    stash_bytes: stashBytes,
    ratio_vs_resident: spread(vsLocal),
    ratio_vs_unsharded_train: spread(vsUnsharded),
    cpu_s: { resident: spread(cpu.resident), unsharded: spread(cpu.unsharded), sharded: spread(cpu.sharded), offload: spread(cpu.offload) },
    cpu_ratio_vs_resident: spread(cpuVsLocal),
    cpu_ratio_vs_unsharded_train: spread(cpuVsUnsharded),
    task_s: { unsharded: taskMedians(tasks.unsharded), sharded: shardedTasks, offload: taskMedians(tasks.offload) },
    recompute_s: recompute,
    bytes_moved: bytes,
    overlap_s: spread(overlap),
    losses_bitwise_equal: bitwise,
  });
}
console.log(
  table(results.map((r) => ({
    model: r.model, budget: r.budget, shards: r.shards, resident_s: formatSpread(r.resident_s), sharded_s: formatSpread(r.sharded_s),
    'sharded / resident': formatSpread(r.ratio_vs_resident, 3), 'sharded / unsharded train()': formatSpread(r.ratio_vs_unsharded_train, 3),
    'CPU: sharded / resident': formatSpread(r.cpu_ratio_vs_resident, 3), 'CPU: sharded / unsharded': formatSpread(r.cpu_ratio_vs_unsharded_train, 3),
    'recompute s': formatSpread(r.recompute_s),
    offload_s: formatSpread(r.offload_s), 'offloaded / resident': formatSpread(r.offload_ratio_vs_resident, 3), 'offloaded / unsharded train()': formatSpread(r.offload_ratio_vs_unsharded_train, 3), stash_MiB: (r.stash_bytes / 2 ** 20).toFixed(0), moved_GB: (r.bytes_moved.sharded / 1e9).toFixed(2), bitwise: String(r.losses_bitwise_equal),
  }))),
);
console.log(`(seconds of AdamW steps 2..${steps} on one cpu:1x${threads} device, waits for copies included; CPU: the process's CPU seconds over the same span; median (min–max) of ${REPEATS} interleaved repetitions, order alternating)`);
const headline = results.find((r) => r.shards >= 4) ?? results[results.length - 1];
writeJson('bench/results/spill.json', {
  headline: {
    model: headline.model, shards: headline.shards, ratio_vs_resident: headline.ratio_vs_resident, ratio_vs_unsharded_train: headline.ratio_vs_unsharded_train,
    cpu_ratio_vs_resident: headline.cpu_ratio_vs_resident, cpu_ratio_vs_unsharded_train: headline.cpu_ratio_vs_unsharded_train, recompute_s: headline.recompute_s,
    offload_ratio_vs_resident: headline.offload_ratio_vs_resident, offload_ratio_vs_unsharded_train: headline.offload_ratio_vs_unsharded_train, offload_cpu_ratio_vs_resident: headline.offload_cpu_ratio_vs_resident, stash_bytes: headline.stash_bytes,
  },
  steps,
  threads,
  repeats: REPEATS,
  baseline: 'resident: the whole model on one cpu backend, LocalTrainer (no host tier, no copies); unsharded: train() at 16 GiB (one shard, still copied in and out every task)',
  offload: "sharded again with activations: 'offload' (forward tasks stash what their backward reads in the host tier; no recompute)",
  cases: results,
  machine: machine(),
});
