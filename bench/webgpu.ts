/**
 * bench:webgpu — the webgpu backend on this machine's adapter: matmul GFLOP/s for square sizes 64..1024 (and the
 * cpu backend's rate at the same sizes, side by side, when it is built), then one GPT-mini training step (forward,
 * backward, AdamW) on webgpu. On llvmpipe (no GPU: Mesa's software rasteriser on the CPU cores) these are smoke
 * figures that show the path works, not GPU speed. Writes bench/results/webgpu.json.
 *
 * Env: SIZES (comma list), REPS (gemm repetitions per size, default 3), STEP_B / STEP_T (batch of the step,
 * default 4 × 64; 1 × 64 on a software adapter), STEPS (timed steps after one warm-up, default 2; 1 on a software
 * adapter), SKIP_STEP=1. On llvmpipe the whole run takes about a minute on 2 cores.
 */
import type { Backend } from '../src/backend/backend.js';
import { createWebGpuBackend } from '../src/backend/webgpu.js';
import { machine, median, randomTokens, table, writeJson } from './common.js';

const be = await createWebGpuBackend({});
/** llvmpipe and friends run shaders on the CPU: smaller defaults so the smoke run stays short. */
const software = /llvmpipe|lavapipe|swiftshader|softpipe/i.test(be.name);
const SIZES = (process.env.SIZES ?? (software ? '64,128,256,512' : '64,128,256,512,1024,2048')).split(',').map(Number);
const REPS = Number(process.env.REPS ?? 3);
const STEP_B = Number(process.env.STEP_B ?? (software ? 1 : 4)), STEP_T = Number(process.env.STEP_T ?? 64);
const STEPS = Number(process.env.STEPS ?? (software ? 1 : 2));

/** Median seconds of one n×n×n gemm, each timed from call to completion (sync), after one warm-up. */
async function gemmSeconds(be: Backend, n: number): Promise<number> {
  const a = be.alloc(n * n), b = be.alloc(n * n), c = be.alloc(n * n);
  const fill = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  await be.upload(a, fill);
  await be.upload(b, fill);
  const times: number[] = [];
  for (let r = 0; r <= REPS; r++) {
    const t0 = performance.now();
    be.gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n);
    await be.sync();
    if (r > 0) times.push((performance.now() - t0) / 1000);
  }
  for (const x of [a, b, c]) be.free(x);
  return median(times);
}

async function cpuBackend(): Promise<Backend | null> {
  try {
    const { createCpuBackend } = await import('../src/backend/cpu.js');
    return createCpuBackend({ threads: 2 });
  } catch {
    return null;
  }
}

async function gptMiniStep(be: Backend): Promise<Record<string, unknown> | { error: string }> {
  try {
    const { buildGpt2, gpt2Config } = await import('../src/nn/gpt2.js');
    const { initModel } = await import('../src/nn/init.js');
    const { LocalTrainer } = await import('../src/optim/local-trainer.js');
    const { ADAMW_DEFAULTS } = await import('../src/optim/optimizer.js');
    const config = gpt2Config('gpt2-mini', { dropout: 0, tie: false });
    const model = buildGpt2(config);
    const t = await LocalTrainer.create(be, model, initModel(model, 1), {
      optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 },
      clipNorm: 1, totalSteps: 100, seed: 1,
    });
    const data = randomTokens(config.vocab_size, STEP_B, STEP_T, 1000);
    const times: number[] = [], losses: number[] = [];
    for (let s = 0; s < 1 + STEPS; s++) {
      const t0 = performance.now();
      const r = await t.trainStep({ ...data.batch(0, s), B: STEP_B, T: STEP_T });
      if (s > 0) times.push((performance.now() - t0) / 1000);
      losses.push(r.loss);
    }
    t.dispose();
    return {
      model: 'gpt2-mini: vocab 50257, n_ctx 256, n_layer 4, n_head 4, n_embd 256, untied, dropout 0; AdamW, clip 1',
      batch: `${STEP_B}x${STEP_T}`,
      step_s_median: median(times),
      step_s_all: times,
      tokens_per_s: (STEP_B * STEP_T) / median(times),
      losses,
    };
  } catch (e) {
    return { error: `GPT-mini step not run: ${(e as Error).message}` };
  }
}

const cpu = await cpuBackend();
console.log(`adapter: ${be.name}${software ? ' — a software rasteriser on the CPU cores: smoke figures, not GPU speed' : ''}`);
const rows: Record<string, string | number>[] = [];
const gemmResults: Record<string, unknown>[] = [];
for (const n of SIZES) {
  const flops = 2 * n * n * n;
  const gpu = await gemmSeconds(be, n);
  const host = cpu ? await gemmSeconds(cpu, n) : null;
  rows.push({
    n,
    'webgpu ms': (gpu * 1e3).toFixed(2),
    'webgpu GFLOP/s': (flops / gpu / 1e9).toFixed(2),
    [`${cpu?.name ?? 'cpu'} GFLOP/s`]: host === null ? 'not built' : (flops / host / 1e9).toFixed(2),
  });
  gemmResults.push({ n, webgpu_s: gpu, webgpu_gflops: flops / gpu / 1e9, cpu_gflops: host === null ? null : flops / host / 1e9 });
}
cpu?.dispose();
console.log(`gemm (n×n×n, median of ${REPS}, each call through sync) — ${be.name}`);
console.log(table(rows));

const step = process.env.SKIP_STEP === '1' ? { error: 'skipped (SKIP_STEP=1)' } : await gptMiniStep(be);
if ('error' in step) console.log(step.error);
else console.log(`GPT-mini training step on ${be.name}, batch ${step.batch}: ${(step.step_s_median as number).toFixed(2)} s (${(step.tokens_per_s as number).toFixed(0)} tokens/s)`);
const counters = (be as unknown as { poolStats?: () => unknown }).poolStats?.();
be.dispose();
writeJson('bench/results/webgpu.json', {
  adapter: be.name,
  note: software ? 'llvmpipe: software rasteriser on the CPU cores; smoke figures, not GPU speed' : undefined,
  gemm: gemmResults,
  gpt_mini_step: step,
  counters,
  machine: machine(),
});
