/**
 * bench:offload — what the disk tier costs: the same model and batch (4 × 256 = 1,024 tokens per step) trained
 * through train() on one cpu device, all state in RAM vs a host cap just above the plan's RAM floor, which sends the
 * optimizer moments and the parameters and gradients of every shard it can to disk, side by side in one run. The
 * device budget (128 MiB) cuts the model into many shards: with one shard there is nothing the placement can stage
 * (a shard on disk needs its slots in RAM), so nothing would go to disk. Beside them:
 *   - the disk's own sequential bandwidth, measured in the same run without the page cache: `dd` with O_DIRECT
 *     (8 MiB blocks; the write to fsync), or where the file system refuses O_DIRECT (tmpfs), a buffered write to
 *     fsync and a read after the file's pages were dropped (posix_fadvise DONTNEED, `dd iflag=nocache`) — the limit;
 *   - the bandwidth the tier achieved: bytes it read and wrote per step over the disk run's step time. The tier's
 *     scratch files use O_DIRECT where the file system accepts it (`io_mode` says which): every byte it reads comes
 *     from the disk, not from the page cache, so the disk run is disk-bound where the disk is the limit;
 *   - how the tier's bytes moved: straight between the disk and aligned memory, or through the addon's bounce buffer
 *     (a memcpy on a pool thread, CPU the compute threads share) — `direct_io`;
 *   - the physics: the seconds of disk I/O a step needs at the disk's own bandwidth (bytes read / read bandwidth +
 *     bytes written / write bandwidth), and the ratio that implies with no overlap at all (1 + I/O / compute) and
 *     with perfect overlap (max(1, I/O / compute)). Compute per step grows with the tokens per step and the I/O does
 *     not (it is the state, once per step), so `tokens_for_target` says how many tokens per step the target needs
 *     even if no I/O overlapped (BATCH sets the batch: 4 × 256 tokens by default).
 *   - where each run's step time goes (`per_step`): the device's phases (task-timing.ts) summed per step after the
 *     first, and `waited`: the time the device had no task between two (the disk tier's loads — a shard's step still
 *     landing, its values not yet read — and the orchestrator's round trip), so that the disk run's extra time is
 *     seen as waiting for the disk, extra copies, or compute slowed by the I/O and steps beside it.
 * Time per step is the median over the steps after the first (which pays the first touch of every page).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { train } from '../src/hydra/job/train.js';
import type { HydraEvent, JobResult, TrainTask } from '../src/hydra/api.js';
import type { TaskTiming } from '../src/hydra/run/task-timing.js';
import { gpt2Arch, gpt2Config } from '../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../src/optim/optimizer.js';
import { machine, median, randomTokens, table, writeJson } from './common.js';
import { buildArch } from '../src/nn/families.js';
import { buildRuntime } from '../src/hydra/run/model-runtime.js';
import { placeJob } from '../src/hydra/tier/placement.js';
import { CONSTANT_LR } from '../src/optim/schedule.js';
import { ScratchFile } from '../src/hydra/tier/scratch-file.js';
import { cpuAddonInfo, loadCpuAddon } from '../src/backend/native-loader.js';

const threads = Number(process.env.THREADS ?? 2);
const steps = Number(process.env.STEPS ?? 4);
const config = gpt2Config('gpt2-mini', { n_layer: Number(process.env.LAYERS ?? 8), n_head: 8, n_embd: 512, n_ctx: 256, vocab_size: 8192, dropout: 0, tie: false });
const B = Number(process.env.BATCH ?? 4), T = 256;
const MiB = 1024 ** 2;

function task(): TrainTask {
  return { name: 'offload', model: gpt2Arch(config), optimizer: { ...ADAMW_DEFAULTS, lr: 3e-4 }, clipNorm: 1, train: randomTokens(config.vocab_size, B, T, 100), steps, seed: 1 };
}

/** Seconds per step in each phase of the device's time (the steps after the first). */
type PerStep = Record<'waited' | 'copyIn' | 'forward' | 'backward' | 'copyOut' | 'step' | 'other', number>;

async function run(hostMemory: number | undefined, spillDir: string | null): Promise<{ stepS: number; r: JobResult; log: string[]; perStep: PerStep }> {
  const times: number[] = [];
  const log: string[] = [];
  const tasks: { t: number; timing: TaskTiming }[] = [];
  const r = await train([task()], {
    devices: `cpu:1x${threads}`, deviceMemory: process.env.DEVICE_MEMORY ?? '128MiB', hostMemory, spillDir, planDir: null,
    onEvent: (e: HydraEvent) => {
      if (e.type === 'step') times.push(e.t);
      if (e.type === 'task-end' && e.timing) tasks.push({ t: e.t, timing: e.timing });
      if (e.type === 'log' && (e.message.startsWith('placement') || e.message.startsWith('  offload') || e.message.startsWith('tiers'))) log.push(e.message);
    },
  });
  const m = r.models[0];
  if (m.status !== 'done') throw new Error(`run failed: ${m.reason}`);
  const per = times.slice(1).map((t, i) => t - times[i]);
  const timed = tasks.filter((x) => x.t > times[0] && x.t <= times[times.length - 1]).map((x) => x.timing);
  const perStep = (f: (x: TaskTiming) => number) => timed.reduce((a, x) => a + f(x), 0) / per.length;
  const phases = { waited: perStep((x) => (x.gap ?? 0) + x.queued + x.prep + x.after) } as PerStep;
  for (const p of ['copyIn', 'forward', 'backward', 'copyOut', 'step', 'other'] as const) phases[p] = perStep((x) => x[p]);
  return { stepS: median(per), r, log, perStep: phases };
}

/** Seconds `dd` takes with these arguments (throws with its stderr when it fails). */
function dd(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('dd', [...args, 'status=none'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd ${args.join(' ')}: ${r.stderr.trim() || r.error?.message}`);
  return (performance.now() - t0) / 1000;
}

/** The disk's sequential write (to fsync) and read of `bytes` in 8 MiB blocks, without the page cache. */
function diskBandwidth(dir: string, bytes: number): { readMBps: number; writeMBps: number; method: string } {
  const path = join(dir, 'bandwidth.bin');
  const count = Math.ceil(bytes / (8 * MiB));
  const mb = (count * 8 * MiB) / 1e6;
  try {
    try {
      const w = dd(['if=/dev/zero', `of=${path}`, 'bs=8M', `count=${count}`, 'oflag=direct', 'conv=fsync']);
      const r = dd([`if=${path}`, 'of=/dev/null', 'bs=8M', 'iflag=direct']);
      return { writeMBps: mb / w, readMBps: mb / r, method: 'O_DIRECT (dd, 8 MiB blocks)' };
    } catch {
      // No O_DIRECT here (tmpfs): buffered, timed to fsync; the read after dropping the file's pages.
      const w = dd(['if=/dev/zero', `of=${path}`, 'bs=8M', `count=${count}`, 'conv=fsync']);
      dd([`if=${path}`, 'iflag=nocache', 'count=0']);
      const r = dd([`if=${path}`, 'of=/dev/null', 'bs=8M']);
      return { writeMBps: mb / w, readMBps: mb / r, method: 'buffered to fsync; read after posix_fadvise DONTNEED (dd, 8 MiB blocks)' };
    }
  } finally {
    rmSync(path, { force: true });
  }
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
  const directStats = () => (cpuAddonInfo().available ? loadCpuAddon().directStats() : { direct: 0, bounced: 0 });
  const io0 = directStats();
  const disk = await run(cap, spill);
  const io1 = directStats();
  const directIo = { direct_bytes: io1.direct - io0.direct, bounced_bytes: io1.bounced - io0.bounced };
  const d = disk.r.diskTier!;
  const p = disk.r.models[0].placement!;
  const bw = diskBandwidth(spill, Math.max(512 * MiB, Math.min(p.readPerStep, 2048 * MiB)));
  // The scratch files' I/O mode in this directory (the same code path the tier took).
  const probe = await ScratchFile.create(spill);
  const ioMode = probe.mode.direct ? 'O_DIRECT' : `buffered (page cache): ${probe.mode.why}`;
  await probe.remove();
  // Measured bytes per step (the job's totals over its steps) and what they cost at the disk's own bandwidth.
  const readPerStep = d.bytesRead / steps, writePerStep = d.bytesWritten / steps;
  const ioS = readPerStep / 1e6 / bw.readMBps + writePerStep / 1e6 / bw.writeMBps;
  const physics = {
    io_s_per_step: ioS,
    ratio_no_overlap: 1 + ioS / ram.stepS,
    ratio_full_overlap: Math.max(1, ioS / ram.stepS),
    tokens_for_target: Math.ceil((B * T * ioS) / (0.25 * ram.stepS)),
  };
  // What went to disk: the values (and gradients) of the disk shards' parameters, and the moments of every parameter
  // whose moments left RAM.
  const total = rt.params.reduce((a, q) => a + q.n, 0);
  const onDisk = p.diskShards.flatMap((k) => rt.shardParams[k].filter((q) => q.shards.length === 1)).reduce((a, q) => a + q.n, 0);
  const share = { params_on_disk: onDisk / total, params_with_moments_on_disk: p.momentsOnDisk / rt.params.length, shards_on_disk: `${p.diskShards.length} of ${rt.shards.length}` };
  const out = {
    bench: 'offload',
    machine: machine(),
    model: { ...config, B, T, tokensPerStep: B * T, stateMiB: stateBytes / MiB },
    devices: `cpu:1x${threads}`,
    steps,
    hostMemory: cap,
    placement: p,
    on_disk: share,
    ram_step_s: ram.stepS,
    disk_step_s: disk.stepS,
    ratio: disk.stepS / ram.stepS,
    disk_read_MBps: bw.readMBps,
    disk_write_MBps: bw.writeMBps,
    disk_method: bw.method,
    io_mode: ioMode,
    achieved_read_MBps: readPerStep / 1e6 / disk.stepS,
    achieved_write_MBps: writePerStep / 1e6 / disk.stepS,
    read_per_step_bytes: readPerStep,
    written_per_step_bytes: writePerStep,
    physics,
    per_step: { ram: ram.perStep, disk: disk.perStep },
    direct_io: directIo,
    disk_tier: d,
    host_high_water: disk.r.hostTier!.highWater,
    peak_rss_bytes: disk.r.peakRssBytes,
  };
  for (const l of disk.log) console.log(l);
  console.log(table([
    { run: 'all in RAM', 'host MiB': (stateBytes / MiB).toFixed(0), 'disk MiB': 0, 's/step': ram.stepS.toFixed(3) },
    { run: 'state on disk', 'host MiB': (disk.r.hostTier!.highWater / MiB).toFixed(0), 'disk MiB': (p.diskBytes / MiB).toFixed(0), 's/step': disk.stepS.toFixed(3) },
  ]));
  console.log(`on disk: ${(share.params_on_disk * 100).toFixed(0)}% of the parameter values (${share.shards_on_disk} shards), the moments of ${(share.params_with_moments_on_disk * 100).toFixed(0)}% of the parameters; disk measured by ${bw.method}`);
  console.log(`ratio ${out.ratio.toFixed(2)}× (target ≤ 1.25×); disk ${bw.readMBps.toFixed(0)} MB/s read, ${bw.writeMBps.toFixed(0)} MB/s write; tier (${ioMode}) achieved ${out.achieved_read_MBps.toFixed(0)} MB/s read, ${out.achieved_write_MBps.toFixed(0)} MB/s write (${(readPerStep / MiB).toFixed(0)} MiB read, ${(writePerStep / MiB).toFixed(0)} MiB written per step)`);
  const phase = (k: keyof PerStep) => `${k} ${ram.perStep[k].toFixed(2)} → ${disk.perStep[k].toFixed(2)}`;
  console.log(`per step, all in RAM → state on disk (s): ${(Object.keys(ram.perStep) as (keyof PerStep)[]).map(phase).join(', ')}`);
  console.log(`direct I/O: ${(directIo.direct_bytes / MiB).toFixed(0)} MiB straight to/from aligned memory, ${(directIo.bounced_bytes / MiB).toFixed(0)} MiB through the bounce buffer (whole run)`);
  console.log(`physics: ${physics.io_s_per_step.toFixed(2)} s of disk I/O per step at the disk's bandwidth vs ${ram.stepS.toFixed(2)} s of compute: ${physics.ratio_no_overlap.toFixed(2)}× with no overlap, ${physics.ratio_full_overlap.toFixed(2)}× with full overlap; ≤ 1.25× even without overlap from ${physics.tokens_for_target} tokens per step (this run: ${B * T})`);
  writeJson('bench/results/offload.json', out);
} finally {
  rmSync(spill, { recursive: true, force: true });
}
