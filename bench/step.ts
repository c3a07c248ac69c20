/**
 * bench:step — one training step (forward, backward, AdamW) of GPT-mini (vocab 50257, n_ctx 256, 4 layers, 4 heads,
 * n_embd 256, batch 8, untied, dropout 0) on the cpu backend and, in the same run, the identical model and step in
 * PyTorch (bench/step_torch.py under Debian's /usr/bin/python3), at 1 and 2 threads each. Warm-up, then the median of
 * STEPS steps. The ceiling is the machine's sgemm rate, measured here in the same run. The comparison is repeated
 * REPEATS times (default 3), hydra and PyTorch interleaved; figures are the median and the range over repetitions.
 */
import { spawnSync } from 'node:child_process';
import { createCpuBackend, cpuBlas, measureSgemmGflops } from '../src/backend/cpu.js';
import { buildGpt2, gpt2Config } from '../src/nn/gpt2.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { formatSpread, machine, median, randomTokens, repeats, spread, table, writeJson } from './common.js';

const STEPS = Number(process.env.STEPS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 1);
const REPEATS = repeats();
const config = gpt2Config('gpt2-mini', { dropout: 0, tie: false });
const B = 8, T = 256;
const tokensPerStep = B * T;

/** Matmul FLOPs of one training step (forward + 2× for backward), attention scores included. */
function stepFlops(): number {
  const { n_layer: L, n_embd: C, vocab_size: V } = config;
  const perToken = L * (24 * C * C + 4 * T * C) + 2 * C * V;
  return 3 * perToken * tokensPerStep;
}

async function hydraStep(threads: number): Promise<{ median: number; all: number[]; firstLoss: number; lastLoss: number }> {
  const be = createCpuBackend({ threads });
  const model = buildGpt2(config);
  const t = await LocalTrainer.create(be, model, initModel(model, 1), {
    optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 100, seed: 1,
  });
  const data = randomTokens(config.vocab_size, B, T, 1000);
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

function torchStep(threads: number): { tokens_per_s: number; step_s_median: number } | { error: string } {
  const r = spawnSync('/usr/bin/python3', ['bench/step_torch.py', '--threads', String(threads), '--steps', String(STEPS), '--warmup', String(WARMUP)], {
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
const samples = new Map<number, { hydra: number[]; torch: number[]; ratio: number[]; peak: number[]; steps: number[][]; losses: number[]; torchError?: string }>();
for (let rep = 0; rep < REPEATS; rep++) {
  for (const threads of [1, 2]) {
    const x = samples.get(threads) ?? { hydra: [], torch: [], ratio: [], peak: [], steps: [], losses: [] };
    samples.set(threads, x);
    x.peak.push(measureSgemmGflops(2048, threads));
    const h = await hydraStep(threads);
    const p = torchStep(threads);
    const hydraTps = tokensPerStep / h.median;
    x.hydra.push(hydraTps);
    x.steps.push(h.all);
    x.losses = [h.firstLoss, h.lastLoss];
    if ('error' in p) x.torchError = p.error;
    else {
      x.torch.push(p.tokens_per_s);
      x.ratio.push(hydraTps / p.tokens_per_s);
    }
    console.log(`repetition ${rep + 1}/${REPEATS}, ${threads} thread(s): hydra ${hydraTps.toFixed(0)} tokens/s, PyTorch ${'error' in p ? 'not measured' : p.tokens_per_s.toFixed(0)}`);
  }
}
for (const [threads, x] of samples) {
  const hydra = spread(x.hydra), torch = x.torch.length ? spread(x.torch) : null, ratio = x.ratio.length ? spread(x.ratio) : null, peak = spread(x.peak);
  const gflops = spread(x.hydra.map((tps) => (flops * tps) / tokensPerStep / 1e9));
  rows.push({
    threads,
    'hydra tokens/s': formatSpread(hydra, 0),
    'pytorch tokens/s': torch ? formatSpread(torch, 0) : 'not measured',
    ratio: ratio ? formatSpread(ratio) : '-',
    'hydra GFLOP/s': formatSpread(gflops, 1),
    'sgemm peak GFLOP/s': formatSpread(peak, 1),
  });
  results[`threads_${threads}`] = {
    hydra_tokens_per_s: hydra, hydra_step_s: x.steps, pytorch_tokens_per_s: torch, pytorch_error: x.torchError, ratio, gflops, sgemm_peak_gflops: peak,
    loss_first: x.losses[0], loss_last: x.losses[1],
  };
  if (x.torchError) console.log(`PyTorch: not measured (${x.torchError})`);
}
console.log(`GPT-mini training step, batch ${B}×${T}, ${(flops / 1e9).toFixed(1)} GFLOP/step, cpu backend (${cpuBlas()}), median of ${STEPS} steps after ${WARMUP} warm-up, per repetition; median (min–max) over ${REPEATS} repetitions`);
console.log(table(rows));
writeJson('bench/results/step.json', {
  by_threads: results,
  repeats: REPEATS,
  flops_per_step: flops,
  model: 'gpt2-mini: vocab 50257, n_ctx 256, n_layer 4, n_head 4, n_embd 256, untied, dropout 0; batch 8; AdamW',
  blas: cpuBlas(),
  machine: machine(),
});
