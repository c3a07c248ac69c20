/**
 * bench:offload — what the disk tier costs: the same model and batch (4 × 256 = 1,024 tokens per step) trained
 * through train() on one cpu device, all state in RAM vs a host cap that sends the parameters' values, gradients and
 * optimizer moments of (nearly) every shard to disk, side by side in one run. Beside them, the disk's own sequential
 * bandwidth measured in the same run with the tier's I/O path (8 MiB pwrite/pread on libuv's pool; the write timed
 * up to fsync, the read of a file larger than the tier's per-step traffic) — the limit — and the bandwidth the tier
 * achieved (bytes it read and wrote per step over the disk run's step time). Time per step is the median over the
 * steps after the first (which pays the first touch of every page). Note: reads may be served by the page cache, as
 * the tier's own are; the figures say what this machine delivered, not the raw device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { train } from '../src/hydra/job/train.js';
import type { HydraEvent, JobResult, TrainTask } from '../src/hydra/api.js';
import { gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { machine, median, randomTokens, table, writeJson } from './common.js';
import { buildArch } from '../src/nn/families.js';
import { buildRuntime } from '../src/hydra/run/model-runtime.js';
import { placeJob } from '../src/hydra/tier/placement.js';
import { CONSTANT_LR } from '../src/optim/schedule.js';

const threads = Number(process.env.THREADS ?? 2);
const steps = Number(process.env.STEPS ?? 4);
const config = gpt2Config('gpt2-mini', { n_layer: Number(process.env.LAYERS ?? 8), n_head: 8, n_embd: 512, n_ctx: 256, vocab_size: 8192, dropout: 0, tie: false });
const B = 4, T = 256;
const MiB = 1024 ** 2;

function task(): TrainTask {
  return { name: 'offload', model: gpt2Arch(config), optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4 }, clipNorm: 1, train: randomTokens(config.vocab_size, B, T, 100), steps, seed: 1 };
}

async function run(hostMemory: number | undefined, spillDir: string | null): Promise<{ stepS: number; r: JobResult; log: string[] }> {
  const times: number[] = [];
  const log: string[] = [];
  const r = await train([task()], {
    devices: `cpu:1x${threads}`, deviceMemory: process.env.DEVICE_MEMORY ?? '512MiB', hostMemory, spillDir, planDir: null,
    onEvent: (e: HydraEvent) => {
      if (e.type === 'step') times.push(e.t);
      if (e.type === 'log' && (e.message.startsWith('placement') || e.message.startsWith('  offload') || e.message.startsWith('tiers'))) log.push(e.message);
    },
  });
  const m = r.models[0];
  if (m.status !== 'done') throw new Error(`run failed: ${m.reason}`);
  const per = times.slice(1).map((t, i) => t - times[i]);
  return { stepS: median(per), r, log };
}

/** Sequential write (to fsync) and read of `bytes` through 8 MiB positional requests, 4 in flight (the tier's path). */
async function diskBandwidth(dir: string, bytes: number): Promise<{ readMBps: number; writeMBps: number }> {
  const path = join(dir, 'bandwidth.bin');
  const chunk = 8 * MiB, buf = Buffer.alloc(chunk, 7);
  const pass = async (write: boolean) => {
    const fh = await open(path, write ? 'w' : 'r');
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < bytes) {
        const at = next;
        next += chunk;
        if (write) await fh.write(buf, 0, chunk, at);
        else await fh.read(Buffer.allocUnsafe(chunk), 0, chunk, at);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    if (write) await fh.sync();
    const s = (performance.now() - t0) / 1000;
    await fh.close();
    return bytes / 1e6 / s;
  };
  const writeMBps = await pass(true);
  const readMBps = await pass(false);
  rmSync(path, { force: true });
  return { readMBps, writeMBps };
}

const spill = mkdtempSync(join(process.env.SPILL_DIR ?? tmpdir(), 'hydra-offload-'));
try {
  const ram = await run(undefined, null);
  const stateBytes = ram.r.hostTier!.highWater;
  // A cap just above the least this plan can run with: the placement sends the moments, then every shard it can,
  // to disk (HOST_SHARE: a share of the all-in-RAM state instead).
  const rt = buildRuntime(buildArch(task().model), ram.r.models[0].plan.shards, { optimizer: task().optimizer, schedule: CONSTANT_LR, clipNorm: 1, totalSteps: steps, seed: 1 }, B, T);
  const floor = placeJob([{ name: 'offload', rt }], Infinity).hostFloor;
  const cap = process.env.HOST_SHARE ? Math.floor(stateBytes * Number(process.env.HOST_SHARE)) : Math.ceil(floor * 1.02);
  const disk = await run(cap, spill);
  const d = disk.r.diskTier!;
  const p = disk.r.models[0].placement!;
  const bw = await diskBandwidth(spill, Math.max(512 * MiB, p.readPerStep));
  const out = {
    bench: 'offload',
    machine: machine(),
    model: { ...config, B, T, tokensPerStep: B * T, stateMiB: stateBytes / MiB },
    devices: `cpu:1x${threads}`,
    steps,
    hostMemory: cap,
    placement: p,
    ram_step_s: ram.stepS,
    disk_step_s: disk.stepS,
    ratio: disk.stepS / ram.stepS,
    disk_read_MBps: bw.readMBps,
    disk_write_MBps: bw.writeMBps,
    achieved_read_MBps: p.readPerStep / 1e6 / disk.stepS,
    achieved_write_MBps: p.writePerStep / 1e6 / disk.stepS,
    disk_tier: d,
    host_high_water: disk.r.hostTier!.highWater,
    peak_rss_bytes: disk.r.peakRssBytes,
  };
  for (const l of disk.log) console.log(l);
  console.log(table([
    { run: 'all in RAM', 'host MiB': (stateBytes / MiB).toFixed(0), 'disk MiB': 0, 's/step': ram.stepS.toFixed(3) },
    { run: 'state on disk', 'host MiB': (disk.r.hostTier!.highWater / MiB).toFixed(0), 'disk MiB': (p.diskBytes / MiB).toFixed(0), 's/step': disk.stepS.toFixed(3) },
  ]));
  console.log(`ratio ${out.ratio.toFixed(2)}× (target ≤ 1.25×); disk ${bw.readMBps.toFixed(0)} MB/s read, ${bw.writeMBps.toFixed(0)} MB/s write; tier achieved ${out.achieved_read_MBps.toFixed(0)} MB/s read, ${out.achieved_write_MBps.toFixed(0)} MB/s write`);
  writeJson('bench/results/offload.json', out);
} finally {
  rmSync(spill, { recursive: true, force: true });
}
