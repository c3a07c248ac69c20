/**
 * bench:head — the fused LM head + cross-entropy alone (one training pass: logits, losses, dW, dx) at GPT-mini's
 * shape (N = 8·256 rows, C 256, V 50257; env N, C, V override), on the cpu backend, for several chunk sizes side by
 * side in one run: the rows per chunk the default chunk bound gives, fixed row counts, and all N rows in one chunk
 * (the materialised head: the whole N·V logits, what the head cost before it was fused). The chunk sizes are
 * interleaved REPEATS times (default 3) so that load on a shared machine hits them alike; figures are the median and
 * the range of the per-repetition medians of CPU time (and wall time beside it), and each chunk size's CPU time
 * relative to the materialised head's in the same repetition.
 *
 * Then (STEP_REPEATS, default REPEATS; 0 skips it) whole GPT-mini training steps (LocalTrainer, bench:step's model
 * and recipe) with the head at the old 8 MiB chunk bound and at the default, interleaved the same way: the step-time
 * ratio the chunk size makes.
 */
import { createCpuBackend, cpuBlas } from '../src/backend/cpu.js';
import { buildGpt2, gpt2Config } from '../src/nn/gpt2.js';
import { initModel } from '../src/nn/init.js';
import { LocalTrainer } from '../src/optim/local-trainer.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import type { Backend } from '../src/backend/backend.js';
import { HEAD_CHUNK_BYTES, headChunkRows, LmHead, withHeadChunk } from '../src/nn/lm-head.js';
import { lossTargets } from '../src/nn/loss.js';
import type { RunContext } from '../src/nn/layer.js';
import { formatSpread, machine, median, randomTokens, repeats, spread, table, writeJson } from './common.js';

const N = Number(process.env.N ?? 2048), C = Number(process.env.C ?? 256), V = Number(process.env.V ?? 50257);
const THREADS = Number(process.env.THREADS ?? 1);
const PASSES = Number(process.env.PASSES ?? 3);
const REPEATS = repeats();
/** The chunk bound before chunks were sized for the dW GEMM (41 rows at GPT-mini's shape). */
const OLD_CHUNK_BYTES = 8 * 1024 * 1024;
const STEP_REPEATS = Number(process.env.STEP_REPEATS ?? REPEATS);
const STEPS = Number(process.env.STEPS ?? 3);
const ROWS = [...new Set([headChunkRows(N, V, OLD_CHUNK_BYTES), headChunkRows(N, V), ...(process.env.ROWS ?? '128,256,512').split(',').map(Number), N])]
  .filter((r) => r >= 1 && r <= N)
  .sort((a, b) => a - b);

const be: Backend = createCpuBackend({ threads: THREADS });
const W = be.alloc(V * C), dW = be.alloc(V * C), x = be.alloc(N * C), targets = be.alloc(N, 'i32');
const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.05);
await be.upload(W, rnd(V * C, 1));
await be.upload(x, rnd(N * C, 2));
const tgt = Int32Array.from({ length: N }, (_, i) => (i * 7919) % V);
await be.upload(targets, tgt);
be.fill(dW, 0);

/**
 * Seconds of one training pass of the head with `rows` rows per chunk: the process's CPU time (user + system), which
 * on a loaded machine counts the work done rather than the waits for a core; wall time beside it.
 */
async function pass(rows: number): Promise<{ cpu: number; wall: number }> {
  const head = new LmHead(0, V, C, false, 'wte.weight', rows * V * 4);
  const ctx: RunContext = {
    be, params: { value: () => W, grad: () => dW }, B: 1, T: N, training: true, keepForBackward: true, seed: 0, step: 0, saved: new Map(),
    loss: lossTargets(targets, tgt),
  };
  const t0 = performance.now(), c0 = process.cpuUsage();
  const losses = head.forward(ctx, x);
  const dx = head.backward(ctx, x, losses);
  await be.download(losses, new Float32Array(N));
  const c = process.cpuUsage(c0), wall = (performance.now() - t0) / 1000;
  be.free(losses);
  be.free(dx);
  return { cpu: (c.user + c.system) / 1e6, wall };
}

const samples = new Map<number, number[]>(ROWS.map((r) => [r, []]));
const walls = new Map<number, number[]>(ROWS.map((r) => [r, []]));
for (const r of ROWS) await pass(r); // warm-up: page faults, BLAS buffers
for (let rep = 0; rep < REPEATS; rep++) {
  for (const r of ROWS) {
    const times: { cpu: number; wall: number }[] = [];
    for (let p = 0; p < PASSES; p++) times.push(await pass(r));
    samples.get(r)!.push(median(times.map((t) => t.cpu)));
    walls.get(r)!.push(median(times.map((t) => t.wall)));
  }
  console.log(`repetition ${rep + 1}/${REPEATS}: ${ROWS.map((r) => `${r} rows ${samples.get(r)!.at(-1)!.toFixed(3)} CPU s`).join(', ')}`);
}
const flops = 3 * 2 * N * V * C;
const whole = samples.get(N)!;
const results = ROWS.map((r) => {
  const s = samples.get(r)!;
  return {
    rows: r, chunks: Math.ceil(N / r), logits_MiB: (r * V * 4) / 2 ** 20, cpu_seconds: spread(s), wall_seconds: spread(walls.get(r)!),
    vs_materialised: spread(s.map((t, i) => t / whole[i])), gflops: spread(s.map((t) => flops / t / 1e9)),
  };
});
console.log(table(results.map((r) => ({
  'rows/chunk': r.rows, chunks: r.chunks, 'logits MiB': r.logits_MiB.toFixed(1), 'CPU s': formatSpread(r.cpu_seconds, 3), 'wall s': formatSpread(r.wall_seconds, 3),
  'CPU vs materialised': formatSpread(r.vs_materialised, 3), 'GFLOP/CPU-s': formatSpread(r.gflops, 1),
}))));
console.log(`fused LM head + cross-entropy, one training pass, N ${N}, C ${C}, V ${V}, cpu:1x${THREADS} (${cpuBlas()}); median of ${PASSES} passes per repetition, median (min–max) over ${REPEATS} interleaved repetitions`);
be.dispose();

/** CPU seconds per GPT-mini training step (median of STEPS after a warm-up step) with the head's chunks bounded by `chunkBytes`. */
async function gptMiniStep(chunkBytes: number): Promise<number> {
  const sbe = createCpuBackend({ threads: THREADS });
  const model = withHeadChunk(buildGpt2(gpt2Config('gpt2-mini', { dropout: 0, tie: false })), chunkBytes);
  const t = await LocalTrainer.create(sbe, model, initModel(model, 1), {
    optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0.1 }, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 0, totalSteps: 100, seed: 1,
  });
  const data = randomTokens(model.vocab, 8, 256, 1000);
  const times: number[] = [];
  try {
    for (let s = 0; s < 1 + STEPS; s++) {
      const c0 = process.cpuUsage();
      await t.trainStep({ ...data.batch(0, s), B: 8, T: 256 });
      const c = process.cpuUsage(c0);
      if (s >= 1) times.push((c.user + c.system) / 1e6);
    }
  } finally {
    t.dispose();
    sbe.dispose();
  }
  return median(times);
}

const step = { old: [] as number[], current: [] as number[] };
for (let rep = 0; rep < STEP_REPEATS; rep++) {
  step.old.push(await gptMiniStep(OLD_CHUNK_BYTES));
  step.current.push(await gptMiniStep(HEAD_CHUNK_BYTES));
  console.log(`GPT-mini step, repetition ${rep + 1}/${STEP_REPEATS}: ${OLD_CHUNK_BYTES / 2 ** 20} MiB chunks ${step.old.at(-1)!.toFixed(3)} CPU s, ${HEAD_CHUNK_BYTES / 2 ** 20} MiB ${step.current.at(-1)!.toFixed(3)} CPU s`);
}
const gptMini = STEP_REPEATS > 0 ? {
  old_chunk_bytes: OLD_CHUNK_BYTES, chunk_bytes: HEAD_CHUNK_BYTES, old_cpu_s: spread(step.old), cpu_s: spread(step.current),
  speedup: spread(step.old.map((o, i) => o / step.current[i])), tokens_per_cpu_s: spread(step.current.map((t) => (8 * 256) / t)),
} : null;
if (gptMini) {
  console.log(`GPT-mini step (batch 8x256, 1 warm-up + median of ${STEPS} steps, CPU s): ${OLD_CHUNK_BYTES / 2 ** 20} MiB chunks (${headChunkRows(2048, 50257, OLD_CHUNK_BYTES)} rows) ` +
    `${formatSpread(gptMini.old_cpu_s, 3)}, ${HEAD_CHUNK_BYTES / 2 ** 20} MiB (${headChunkRows(2048, 50257)} rows) ${formatSpread(gptMini.cpu_s, 3)}: ${formatSpread(gptMini.speedup, 3)}× faster`);
}
writeJson('bench/results/head.json', { N, C, V, threads: THREADS, passes: PASSES, repeats: REPEATS, results, gpt_mini_step: gptMini, machine: machine() });
