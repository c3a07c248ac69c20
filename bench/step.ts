/**
 * bench:step — one training step (forward, backward, AdamW) of GPT-mini (vocab 50257, n_ctx 256, 4 layers, 4 heads,
 * n_embd 256, batch 8, untied, dropout 0) on the cpu backend and, in the same run, the identical model and step in
 * PyTorch (bench/step_torch.py under Debian's /usr/bin/python3), at 1 and 2 threads each. Warm-up, then the median of
 * STEPS steps. The ceiling is the machine's sgemm rate, measured here in the same run. A second row does the same
 * for a SmolLM2-like Llama scaled to this machine (SmolLM2-135M's width, heads, kv heads, MLP and vocabulary, tied;
 * 4 of its 30 layers; batch 4×256).
 */
import { spawnSync } from 'node:child_process';
import { createCpuBackend, cpuBlas, measureSgemmGflops } from '../src/backend/cpu.js';
import { buildGpt2, gpt2Config } from '../src/nn/gpt2.js';
import { buildLlama, llamaConfig } from '../src/nn/llama.js';
import type { Model } from '../src/nn/model.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { machine, median, randomTokens, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 1);
const config = gpt2Config('gpt2-mini', { dropout: 0, tie: false });
const B = 8, T = 256;
const tokensPerStep = B * T;

/** Matmul FLOPs of one training step (forward + 2× for backward), attention scores included. */
function stepFlops(): number {
  const { n_layer: L, n_embd: C, vocab_size: V } = config;
  const perToken = L * (24 * C * C + 4 * T * C) + 2 * C * V;
  return 3 * perToken * tokensPerStep;
}

const llama = llamaConfig('smollm2-135m', { n_layer: 4 });
const LB = 4, LT = 256;

/** The same count for the Llama: q, k, v, o and the three MLP projections, scores and mixing, the head. */
function llamaFlops(): number {
  const { n_layer: L, n_embd: C, n_head: NH, n_kv_head: NKV, head_dim: hs, intermediate_size: I, vocab_size: V } = llama;
  const perToken = L * (2 * (2 * C * NH * hs + 2 * C * NKV * hs + 3 * C * I) + 4 * LT * NH * hs) + 2 * C * V;
  return 3 * perToken * LB * LT;
}

async function hydraStep(threads: number, model: Model, B: number, T: number): Promise<{ median: number; all: number[]; firstLoss: number; lastLoss: number }> {
  const be = createCpuBackend({ threads });
  const t = await LocalTrainer.create(be, model, initModel(model, 1), {
    optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 100, seed: 1,
  });
  const data = randomTokens(model.vocab, B, T, 1000);
  const times: number[] = [];
  let first = NaN, last = NaN;
  for (let s = 0; s < WARMUP + STEPS; s++) {
    const b = data.batch(0, s);
    const t0 = performance.now();
    const r = await t.trainStep({ ...b, B, T });
    const dt = (performance.now() - t0) / 1000;
    if (s === 0) first = r.loss;
    last = r.loss;
    if (s >= WARMUP) times.push(dt);
  }
  t.dispose();
  be.dispose();
  return { median: median(times), all: times, firstLoss: first, lastLoss: last };
}

function torchStep(threads: number, shape: string[] = []): { tokens_per_s: number; step_s_median: number } | { error: string } {
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

const flops = stepFlops();
const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown> = {};
for (const threads of [1, 2]) {
  const peak = measureSgemmGflops(2048, threads);
  const h = await hydraStep(threads, buildGpt2(config), B, T);
  const p = torchStep(threads);
  const hydraTps = tokensPerStep / h.median;
  const torchTps = 'error' in p ? null : p.tokens_per_s;
  rows.push({
    model: 'gpt2-mini',
    threads,
    'hydra tokens/s': hydraTps.toFixed(0),
    'pytorch tokens/s': torchTps === null ? 'not measured' : torchTps.toFixed(0),
    ratio: torchTps === null ? '-' : (hydraTps / torchTps).toFixed(2),
    'hydra GFLOP/s': (flops / h.median / 1e9).toFixed(1),
    'sgemm peak GFLOP/s': peak.toFixed(1),
  });
  results[`threads_${threads}`] = {
    hydra_tokens_per_s: hydraTps,
    hydra_step_s: h.all,
    pytorch_tokens_per_s: torchTps,
    pytorch: p,
    ratio: torchTps === null ? null : hydraTps / torchTps,
    gflops: flops / h.median / 1e9,
    sgemm_peak_gflops: peak,
    loss_first: h.firstLoss,
    loss_last: h.lastLoss,
  };
  if ('error' in p) console.log(`PyTorch: not measured (${p.error})`);
}
const llamaShape = ['--family', 'llama', '--tie', '--vocab', String(llama.vocab_size), '--n-ctx', String(LT), '--batch', String(LB),
  '--n-layer', String(llama.n_layer), '--n-head', String(llama.n_head), '--n-kv-head', String(llama.n_kv_head), '--n-embd', String(llama.n_embd),
  '--intermediate', String(llama.intermediate_size), '--rope-theta', String(llama.rope_theta)];
const llamaResults: Record<string, unknown> = {};
for (const threads of [1, 2]) {
  const h = await hydraStep(threads, buildLlama(llama), LB, LT);
  const p = torchStep(threads, llamaShape);
  const hydraTps = (LB * LT) / h.median;
  const torchTps = 'error' in p ? null : p.tokens_per_s;
  rows.push({
    model: 'llama (smollm2-like)',
    threads,
    'hydra tokens/s': hydraTps.toFixed(0),
    'pytorch tokens/s': torchTps === null ? 'not measured' : torchTps.toFixed(0),
    ratio: torchTps === null ? '-' : (hydraTps / torchTps).toFixed(2),
    'hydra GFLOP/s': (llamaFlops() / h.median / 1e9).toFixed(1),
    'sgemm peak GFLOP/s': '',
  });
  llamaResults[`threads_${threads}`] = {
    hydra_tokens_per_s: hydraTps, hydra_step_s: h.all, pytorch_tokens_per_s: torchTps, pytorch: p,
    ratio: torchTps === null ? null : hydraTps / torchTps, gflops: llamaFlops() / h.median / 1e9, loss_first: h.firstLoss, loss_last: h.lastLoss,
  };
  if ('error' in p) console.log(`PyTorch: not measured (${p.error})`);
}
console.log(`Llama row: SmolLM2-135M's shape with 4 of its 30 layers (n_embd 576, 9 heads over 3 kv heads, SwiGLU 1536, vocab 49152, tied), batch ${LB}×${LT}, ${(llamaFlops() / 1e9).toFixed(1)} GFLOP/step`);
console.log(`GPT-mini training step, batch ${B}×${T}, ${(flops / 1e9).toFixed(1)} GFLOP/step, cpu backend (${cpuBlas()}), median of ${STEPS} after ${WARMUP} warm-up`);
console.log(table(rows));
const two = results.threads_2 as { hydra_tokens_per_s: number; pytorch_tokens_per_s: number | null; ratio: number | null; gflops: number; sgemm_peak_gflops: number };
writeJson('bench/results/step.json', {
  hydra_tokens_per_s: two.hydra_tokens_per_s,
  pytorch_tokens_per_s: two.pytorch_tokens_per_s,
  ratio: two.ratio,
  gflops: two.gflops,
  sgemm_peak_gflops: two.sgemm_peak_gflops,
  flops_per_step: flops,
  by_threads: results,
  model: 'gpt2-mini: vocab 50257, n_ctx 256, n_layer 4, n_head 4, n_embd 256, untied, dropout 0; batch 8; AdamW',
  llama: { model: 'smollm2-135m shape with n_layer 4 (tied); batch 4x256; AdamW', flops_per_step: llamaFlops(), by_threads: llamaResults },
  blas: cpuBlas(),
  machine: machine(),
});
