/**
 * How much RAM this process can really use: the machine's memory (os.totalmem) or, inside a container, the cgroup's
 * limit when it is lower — the limit the kernel's OOM killer enforces. By default hydra-dl as a whole takes a share of
 * it: the host tier, the memory of devices that are this same RAM (`cpu` and `js` devices: their budgets), and an
 * allowance for the runtime; the rest is left to the page cache and the other processes.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { BackendKind } from '../../backend/index.js';
import { stateNames } from '../../optim/optimizer.js';
import type { PartitionPlan } from '../api.js';
import type { ModelRuntime } from '../run/model-runtime.js';

/** Share of physical RAM hydra-dl takes (host tier + devices in RAM + runtime) when `hostMemory` is not set. */
export const DEFAULT_HOST_SHARE = 0.6;

/**
 * The least the runtime holds beside the tiers and the device budgets (Node and its heaps, device worker threads, the
 * native addon, I/O buffers): an allowance, counted in the default cap and the preflight. Measured: ≈ 57 MiB with one
 * cpu device and a small model (test/hydra/disk-faults.test.ts); ≈ 2.6 GiB on bench:paper's 12 GPT-2 124M models
 * (tokenizer, plans, allocator slack) — which the default share's remaining 40 % of RAM covers.
 */
export const RUNTIME_ALLOWANCE = 512 * 1024 ** 2;

/** Devices whose memory is this process's RAM (cpu, js): how many and the budget of each. */
export interface DevicesInRam {
  kind: BackendKind;
  count: number;
  budget: number;
  /**
   * The most one device can hold for the job's models placed so far (deviceNeed: state + peak); a budget above it is never
   * used, so only the smaller counts. Unknown (undefined) before the models are planned.
   */
  need?: number;
}

/** The devices' memory that is host RAM: `cpu` and `js` devices' budgets; a GPU's (webgpu) is not. */
export function devicesInRam(d: { kind: BackendKind; count: number }, budget: number): DevicesInRam | undefined {
  return d.kind === 'cpu' || d.kind === 'js' ? { kind: d.kind, count: d.count, budget } : undefined;
}

/** What one device in RAM is counted for: its budget, or what the job's models can use of it when that is less. */
export function deviceBytesCounted(d: DevicesInRam): number {
  return Math.min(d.budget, d.need ?? Infinity);
}

export function devicesBytes(d: DevicesInRam | undefined): number {
  return d ? d.count * deviceBytesCounted(d) : 0;
}

/**
 * The most one device can hold for these models, whatever its budget: every model's parameters, gradients and
 * optimizer state at once (the shard cache and device-resident optimizer state may keep all of them there) plus the
 * heaviest shard task's planned peak and the prefetch reserve beside it. An upper bound (the peak already counts its
 * own shard's parameters), so a device budget set far above what the job needs ("16GiB" on a cpu device, meaning
 * "no limit") does not take that much RAM away from the host tier's default.
 */
export function deviceNeed(models: { rt: ModelRuntime; plan: PartitionPlan }[]): DeviceNeed {
  let state = 0, peak = 0;
  for (const { rt, plan } of models) {
    const params = rt.params.reduce((a, q) => a + 4 * q.n, 0);
    state += params * (2 + stateNames(rt.recipe.optimizer).length);
    for (const s of plan.shards) peak = Math.max(peak, s.peakBytes.train + plan.reserve);
  }
  return { state, peak };
}

/** The devices in RAM, counted for at most `need` each (deviceNeed's state + peak); undefined stays undefined. */
export function withDeviceNeed(d: DevicesInRam | undefined, need: DeviceNeed): DevicesInRam | undefined {
  return d && { ...d, need: need.state + need.peak };
}

/** deviceNeed's parts, kept apart so that models placed later add their state and raise the peak. */
export interface DeviceNeed {
  state: number;
  peak: number;
}

export interface PhysicalMemory {
  /** The smaller of os.totalmem() and the cgroup limit. */
  bytes: number;
  totalmem: number;
  /** The cgroup (v2 memory.max, or v1 limit_in_bytes) limit when one is set. */
  cgroupLimit?: number;
}

/** A cgroup limit file's value: a byte count, or undefined for 'max' / absent / unreadable / unlimited. */
export function readCgroupLimit(paths = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']): number | undefined {
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const n = Number(text);
    // cgroup v1 writes a huge page-rounded number (≈ 2^63) for "no limit".
    if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
  }
  return undefined;
}

export function physicalMemory(): PhysicalMemory {
  const total = totalmem();
  const cgroupLimit = readCgroupLimit();
  return { bytes: Math.min(total, cgroupLimit ?? Infinity), totalmem: total, ...(cgroupLimit !== undefined ? { cgroupLimit } : {}) };
}

/**
 * The default host cap: the default share of RAM less what the devices in RAM may hold and the runtime allowance, so
 * that cap + device budgets + runtime fit within the share (0 when the devices alone take it: the preflight says so).
 */
export function defaultHostMemory(ram: PhysicalMemory = physicalMemory(), devices?: DevicesInRam): number {
  return Math.max(0, Math.floor(ram.bytes * DEFAULT_HOST_SHARE - devicesBytes(devices) - RUNTIME_ALLOWANCE));
}
