/**
 * bench:step — one training step (forward, backward, AdamW) on the cpu backend (LocalTrainer, the whole model
 * resident) and, in the same run, the identical model and step in PyTorch (bench/step_torch.py under Debian's
 * /usr/bin/python3), at 1 and 2 threads each. Two models: GPT-mini (vocab 50257, n_ctx 256, 4 layers, 4 heads,
 * n_embd 256, batch 8, untied, dropout 0) and a SmolLM2-like Llama scaled to this machine (SmolLM2-135M's width,
 * heads, kv heads, MLP and vocabulary, tied; 4 of its 30 layers; batch 4×256). Warm-up, then the median of STEPS
 * steps. The ceiling is the machine's sgemm rate, measured here in the same run. The comparison is repeated REPEATS
 * times (default 3), hydra and PyTorch interleaved; figures are the median and the range over repetitions.
 */
import { spawnSync } from 'node:child_process';
import { createCpuBackend, cpuBlas, measureSgemmGflops } from '../src/backend/cpu.js';
import { buildGpt2, gpt2Config } from '../src/nn/gpt2.js';
import { buildLlama, llamaConfig } from '../src/nn/llama.js';
import type { Model } from '../src/nn/model.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatSpread, machine, median, randomTokens, repeats, spread, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 1);
const REPEATS = repeats();

const gpt2 = gpt2Config('gpt2-mini', { dropout: 0, tie: false });
const llama = llamaConfig('smollm2-135m', { n_layer: 4 });

interface Workload {
  label: string;
  build: () => Model;
  B: number;
  T: number;
  /** Matmul FLOPs of one training step (forward + 2× for backward), attention scores included. */
  flops: number;
  /** step_torch.py's arguments for the same model (none: its default GPT-mini). */
  torchShape: string[];
  describe: string;
}

const WORKLOADS: Workload[] = [
  {
    label: 'gpt2-mini', build: () => buildGpt2(gpt2), B: 8, T: 256, torchShape: [],
    flops: (() => {
      const { n_layer: L, n_embd: C, vocab_size: V } = gpt2;
      return 3 * (L * (24 * C * C + 4 * 256 * C) + 2 * C * V) * 8 * 256;
    })(),
    describe: 'gpt2-mini: vocab 50257, n_ctx 256, n_layer 4, n_head 4, n_embd 256, untied, dropout 0; batch 8x256; AdamW',
  },
  {
    label: 'llama (smollm2-like)', build: () => buildLlama(llama), B: 4, T: 256,
    torchShape: ['--family', 'llama', '--tie', '--vocab', String(llama.vocab_size), '--n-ctx', '256', '--batch', '4',
      '--n-layer', String(llama.n_layer), '--n-head', String(llama.n_head), '--n-kv-head', String(llama.n_kv_head), '--n-embd', String(llama.n_embd),
      '--intermediate', String(llama.intermediate_size), '--rope-theta', String(llama.rope_theta)],
    flops: (() => {
      const { n_layer: L, n_embd: C, n_head: NH, n_kv_head: NKV, head_dim: hs, intermediate_size: I, vocab_size: V } = llama;
      return 3 * (L * (2 * (2 * C * NH * hs + 2 * C * NKV * hs + 3 * C * I) + 4 * 256 * NH * hs) + 2 * C * V) * 4 * 256;
    })(),
    describe: `smollm2-135m shape with n_layer 4 (n_embd ${llama.n_embd}, ${llama.n_head} heads over ${llama.n_kv_head} kv heads, SwiGLU ${llama.intermediate_size}, vocab ${llama.vocab_size}, tied); batch 4x256; AdamW`,
  },
];

async function hydraStep(threads: number, w: Workload): Promise<{ median: number; all: number[]; firstLoss: number; lastLoss: number }> {
  const be = createCpuBackend({ threads });
  const model = w.build();
  const t = await LocalTrainer.create(be, model, initModel(model, 1), {
    optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 100, seed: 1,
  });
  const data = randomTokens(model.vocab, w.B, w.T, 1000);
  const times: number[] = [];
  let first = NaN, last = NaN;
  for (let s = 0; s < WARMUP + STEPS; s++) {
    const b = data.batch(0, s);
    const t0 = performance.now();
    const r = await t.trainStep({ ...b, B: w.B, T: w.T });
    const dt = (performance.now() - t0) / 1000;
    if (s === 0) first = r.loss;
    last = r.loss;
    if (s >= WARMUP) times.push(dt);
  }
  t.dispose();
  be.dispose();
  return { median: median(times), all: times, firstLoss: first, lastLoss: last };
}

function torchStep(threads: number, shape: string[]): { tokens_per_s: number; step_s_median: number } | { error: string } {
  const r = spawnSync('/usr/bin/python3', ['bench/step_torch.py', '--threads', String(threads), '--steps', String(STEPS), '--warmup', String(WARMUP), ...shape], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
  });
  if (r.error) return { error: `could not run /usr/bin/python3: ${r.error.message}` };
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { tokens_per_s: number; step_s_median: number; error?: string };
    if (j.error) return { error: j.error };
    return j;
  } catch {
    return { error: `unexpected output from step_torch.py: ${(r.stderr || line).slice(0, 300)}` };
  }
}

interface Samples { hydra: number[]; torch: number[]; ratio: number[]; peak: number[]; steps: number[][]; losses: number[]; torchError?: string }
const samples = new Map<string, Samples>();
const keyOf = (w: Workload, threads: number) => `${w.label}|${threads}`;
for (let rep = 0; rep < REPEATS; rep++) {
  for (const w of WORKLOADS) {
    for (const threads of [1, 2]) {
      const x = samples.get(keyOf(w, threads)) ?? { hydra: [], torch: [], ratio: [], peak: [], steps: [], losses: [] };
      samples.set(keyOf(w, threads), x);
      x.peak.push(measureSgemmGflops(2048, threads));
      const h = await hydraStep(threads, w);
      const p = torchStep(threads, w.torchShape);
      const hydraTps = (w.B * w.T) / h.median;
      x.hydra.push(hydraTps);
      x.steps.push(h.all);
      x.losses = [h.firstLoss, h.lastLoss];
      if ('error' in p) x.torchError = p.error;
      else {
        x.torch.push(p.tokens_per_s);
        x.ratio.push(hydraTps / p.tokens_per_s);
      }
      console.log(`repetition ${rep + 1}/${REPEATS}, ${w.label}, ${threads} thread(s): hydra ${hydraTps.toFixed(0)} tokens/s, PyTorch ${'error' in p ? 'not measured' : p.tokens_per_s.toFixed(0)}`);
    }
  }
}

const rows: Record<string, string | number>[] = [];
const results: Record<string, Record<string, unknown>> = {};
for (const w of WORKLOADS) {
  results[w.label] = {};
  for (const threads of [1, 2]) {
    const x = samples.get(keyOf(w, threads))!;
    const hydra = spread(x.hydra), torch = x.torch.length ? spread(x.torch) : null, ratio = x.ratio.length ? spread(x.ratio) : null, peak = spread(x.peak);
    const gflops = spread(x.hydra.map((tps) => (w.flops * tps) / (w.B * w.T) / 1e9));
    rows.push({
      model: w.label,
      threads,
      'hydra tokens/s': formatSpread(hydra, 0),
      'pytorch tokens/s': torch ? formatSpread(torch, 0) : 'not measured',
      ratio: ratio ? formatSpread(ratio) : '-',
      'hydra GFLOP/s': formatSpread(gflops, 1),
      'sgemm peak GFLOP/s': formatSpread(peak, 1),
    });
    results[w.label][`threads_${threads}`] = {
      hydra_tokens_per_s: hydra, hydra_step_s: x.steps, pytorch_tokens_per_s: torch, pytorch_error: x.torchError, ratio, gflops, sgemm_peak_gflops: peak,
      loss_first: x.losses[0], loss_last: x.losses[1],
    };
    if (x.torchError) console.log(`${w.label}: PyTorch not measured (${x.torchError})`);
  }
}
for (const w of WORKLOADS) console.log(`${w.label}: ${w.describe}, ${(w.flops / 1e9).toFixed(1)} GFLOP/step`);
console.log(`cpu backend (${cpuBlas()}), median of ${STEPS} steps after ${WARMUP} warm-up, per repetition; median (min–max) over ${REPEATS} repetitions`);
console.log(table(rows));
writeJson('bench/results/step.json', {
  by_model: Object.fromEntries(WORKLOADS.map((w) => [w.label, { model: w.describe, flops_per_step: w.flops, by_threads: results[w.label] }])),
  repeats: REPEATS,
  blas: cpuBlas(),
  machine: machine(),
});
