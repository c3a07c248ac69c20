/**
 * bench:spill — what sharding + spilling costs: a GPT-2 trained on ONE cpu device, unsharded (budget large enough
 * for one shard) vs a budget that forces several shards, same steps, same data, both through train(), side by side
 * in one run. The sharded run recomputes the forward of every shard but the last (gradient checkpointing at shard
 * boundaries) and copies parameters, gradients and boundary activations between host and device every task.
 *
 * Two models:
 * - `gpt-mini` (the engine bench's model, B 8 × T 256): its untied LM head with its (B·T, 50257) logits is the
 *   largest layer by far (≈ 495 MiB at train time, the other six layers ≈ 305 MiB together), so no budget cuts it
 *   into more than 2 shards: any budget that holds the head holds everything else in one shard.
 * - `gpt-wide` (12 layers, n_embd 512, B 2 × T 128): the blocks carry most of the memory, so a budget just above the
 *   head forces ≥ 4 shards. This is the case the issue's ≥ 4-shard figure is taken from.
 */
import { train } from '../src/hydra/job/train.js';
import type { HydraEvent, TrainTask } from '../src/hydra/api.js';
import { gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import type { Gpt2Config } from '../src/nn/gpt2-config.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatPlan } from '../src/hydra/plan/plan-cache.js';
import { machine, randomTokens, table, writeJson } from './common.js';

const threads = Number(process.env.THREADS ?? 1);
const steps = Number(process.env.STEPS ?? 9);

interface Case {
  name: string;
  config: Gpt2Config;
  B: number;
  T: number;
  /** Budget for the sharded run. */
  budget: string;
}

const CASES: Case[] = [
  { name: 'gpt-mini', config: gpt2Config('gpt2-mini', { dropout: 0, tie: false }), B: 8, T: 256, budget: process.env.MINI_BUDGET ?? '560MiB' },
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

async function run(c: Case, deviceMemory: string) {
  // Steady state: the first step pays first-touch page faults on freshly allocated device memory; count from step 2.
  // Wall time on the one device, from the first task of step 2 to the end of the last: waiting for copies that did
  // not overlap compute counts (device-seconds alone would leave it out).
  let steadySeconds = 0, from = -1, to = -1;
  const onEvent = (e: HydraEvent) => {
    if (e.type === 'task-start' && e.step >= 1 && from < 0) from = e.t;
    if (e.type === 'task-end' && e.step >= 1) {
      steadySeconds += e.computeSeconds;
      to = e.t;
    }
  };
  const r = await train([task(c)], { devices: `cpu:1x${threads}`, deviceMemory, planDir: null, prefetch: true, onEvent });
  const m = r.models[0];
  if (m.status !== 'done') throw new Error(`${c.name} at ${deviceMemory}: ${m.status} ${m.reason}`);
  // Device-seconds of the training tasks: the pilot pass and worker start-up are not part of either side.
  return { plan: m.plan, losses: m.losses, wallSeconds: to - from, deviceSeconds: steadySeconds, bytes: r.bytesMoved, overlap: r.overlapSeconds };
}

const results = [];
for (const c of (process.env.CASES?.split(',') ?? CASES.map((x) => x.name)).map((n) => CASES.find((x) => x.name === n)!)) {
  const big = await run(c, '16GiB');
  const small = await run(c, c.budget);
  console.log(formatPlan(small.plan));
  const ratio = small.wallSeconds / big.wallSeconds;
  const sameLosses = big.losses.every((l, i) => l === small.losses[i]);
  results.push({
    model: c.name,
    shape: `${c.config.n_layer} layers, n_embd ${c.config.n_embd}, ${c.config.n_head} heads, vocab ${c.config.vocab_size}, untied; batch ${c.B}x${c.T}`,
    budget: c.budget,
    shards: small.plan.shards.length,
    unsharded_s: big.wallSeconds,
    sharded_s: small.wallSeconds,
    ratio,
    device_seconds: { unsharded: big.deviceSeconds, sharded: small.deviceSeconds },
    bytes_moved: { unsharded: big.bytes, sharded: small.bytes },
    overlap_s: small.overlap,
    losses_bitwise_equal: sameLosses,
  });
}
console.log(
  table(results.map((r) => ({ model: r.model, budget: r.budget, shards: r.shards, unsharded_s: r.unsharded_s, sharded_s: r.sharded_s, ratio: r.ratio, moved_GB: r.bytes_moved.sharded / 1e9, overlap_s: r.overlap_s, bitwise: String(r.losses_bitwise_equal) }))),
);
console.log(`(seconds of AdamW steps 2..${steps} on the one cpu:1x${threads} device, waits for copies included; ratio = sharded / unsharded)`);
const headline = results.find((r) => r.shards >= 4) ?? results[results.length - 1];
writeJson('bench/results/spill.json', {
  unsharded_s: headline.unsharded_s,
  sharded_s: headline.sharded_s,
  ratio: headline.ratio,
  shards: headline.shards,
  model: headline.model,
  steps,
  threads,
  cases: results,
  machine: machine(),
});
