/**
 * bench:spill — what sharding + spilling costs: GPT-mini trained on ONE cpu device, unsharded (budget large enough
 * for one shard) vs a budget that forces ≥ 4 shards, same steps, same data. Both through train(), side by side in one
 * run. The sharded run recomputes the forward of every shard but the last (gradient checkpointing at shard
 * boundaries) and copies parameters/gradients/boundary activations between host and device every task.
 */
import { train } from '../src/hydra/train.js';
import type { TrainTask } from '../src/hydra/api.js';
import { gpt2Config } from '../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatPlan } from '../src/hydra/plan.js';
import { machine, randomTokens, table, writeJson } from './common.js';

const threads = Number(process.env.THREADS ?? 1);
const steps = Number(process.env.STEPS ?? 4);
const config = gpt2Config('gpt2-mini', { dropout: 0, tie: false });
const B = 8, T = 256;

function task(): TrainTask {
  return { name: 'gpt-mini', model: config, optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, clipNorm: 1, train: randomTokens(config.vocab_size, B, T, 100), steps, seed: 1 };
}

async function run(deviceMemory: string) {
  const t0 = performance.now();
  const r = await train([task()], { devices: `cpu:1x${threads}`, deviceMemory, planDir: null, prefetch: true });
  const seconds = (performance.now() - t0) / 1000;
  const m = r.models[0];
  if (m.status !== 'done') throw new Error(`${deviceMemory}: ${m.status} ${m.reason}`);
  // Time the steady state: exclude the pilot pass and worker start (the makespan counts from the job's start too).
  return { seconds, makespan: r.makespanSeconds, plan: m.plan, losses: m.losses, deviceSeconds: m.deviceSeconds, bytes: r.bytesMoved, overlap: r.overlapSeconds };
}

const big = await run('16GiB');
const small = await run(process.env.SHARDED_BUDGET ?? '600MiB');
console.log(formatPlan(small.plan));
const sameLosses = big.losses.every((l, i) => l === small.losses[i]);
const rows = [
  { run: 'unsharded', shards: big.plan.shards.length, device_s: big.deviceSeconds, bytes_moved: big.bytes, overlap_s: big.overlap },
  { run: 'sharded', shards: small.plan.shards.length, device_s: small.deviceSeconds, bytes_moved: small.bytes, overlap_s: small.overlap },
];
console.log(table(rows));
const ratio = small.deviceSeconds / big.deviceSeconds;
console.log(`ratio sharded/unsharded = ${ratio.toFixed(3)} (device-seconds of ${steps} steps, cpu:1x${threads}); losses bitwise equal: ${sameLosses}`);
writeJson('bench/results/spill.json', {
  unsharded_s: big.deviceSeconds,
  sharded_s: small.deviceSeconds,
  ratio,
  shards: small.plan.shards.length,
  steps,
  threads,
  losses_bitwise_equal: sameLosses,
  bytes_moved: { unsharded: big.bytes, sharded: small.bytes },
  overlap_s: small.overlap,
  model: 'gpt2-mini (vocab 50257, n_ctx 256, 4 layers, 4 heads, n_embd 256, untied), batch 8, AdamW, clip 1.0',
  budget: small.plan.budget,
  machine: machine(),
});
