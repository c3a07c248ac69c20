/**
 * The preflight, before any model trains: what the plan puts in RAM against the host cap and against the RAM the
 * machine really has, and what it puts on disk against the free space where the scratch files go. A job that cannot
 * run is refused here, naming the numbers and what to change — not killed by the OOM killer or a full disk an hour in.
 */
import { accessSync, constants, mkdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../units.js';
import { DEFAULT_HOST_SHARE, deviceBytesCounted, devicesBytes, RUNTIME_ALLOWANCE, type DevicesInRam, type PhysicalMemory } from './physical-memory.js';

export class PreflightError extends Error {
  constructor(message: string) {
    super(`preflight: ${message}`);
    this.name = 'PreflightError';
  }
}

export interface PreflightInput {
  /** Bytes the plan holds in the host tier (pinned state, staging, chunk buffers). */
  hostBytes: number;
  /** The least the host tier could hold with as much on disk as helps (placement.ts: hostFloor). */
  hostFloor: number;
  /** Bytes of scratch the plan puts on disk. */
  diskBytes: number;
  /** Bytes of final weights the result keeps in its file at spillDir (parameters whose values live on disk). */
  resultDiskBytes?: number;
  /** Devices whose memory is this same RAM (cpu, js): their budgets count beside the host tier. */
  devices?: DevicesInRam;
  /** The host cap (`hostMemory`). */
  hostCap: number;
  /** Whether the cap was set by the user (else it is the default share of RAM). */
  hostCapGiven: boolean;
  ram: PhysicalMemory;
  /** Where scratch goes; free space is read from it (after ensureSpillDir). */
  spillDir?: string;
  /** Free bytes at spillDir (statfs); read when absent. */
  diskFree?: number;
}

/** Bytes free for an unprivileged writer on the file system holding `dir`. */
export function freeDiskBytes(dir: string): number {
  const s = statfsSync(dir, { bigint: true });
  return Number(s.bavail * s.bsize);
}

function ramWords(ram: PhysicalMemory): string {
  return ram.cgroupLimit !== undefined && ram.cgroupLimit < ram.totalmem
    ? `${formatBytes(ram.bytes)} (the cgroup limit; the machine has ${formatBytes(ram.totalmem)})`
    : formatBytes(ram.bytes);
}

/**
 * What the job holds in RAM, in one line (`hydra train --dry-run`, the job's log): the host tier, the devices that are
 * this same RAM, the runtime allowance, their sum against the RAM this process may use; and where the result's final
 * weights go (`weights.ram`: parameters the host tier holds, handed over as views, already inside its bytes; `disk`:
 * those that lived on disk).
 */
export function describeRam(p: PreflightInput, weights: { ram: number; disk: number }): string {
  const host = Math.min(p.hostBytes, p.hostCap), dev = devicesBytes(p.devices), d = p.devices;
  return (
    `RAM: host tier ${formatBytes(host)} of hostMemory ${formatBytes(p.hostCap)}${p.hostCapGiven ? '' : ` (${capWords(p)})`}` +
    (d ? ` + ${d.count} ${d.kind} device${d.count === 1 ? '' : 's'} × ${deviceWords(d)} = ${formatBytes(dev)} (their memory is this RAM)` : '') +
    ` + runtime ${formatBytes(RUNTIME_ALLOWANCE)} = ${formatBytes(host + dev + RUNTIME_ALLOWANCE)} of ${ramWords(p.ram)}; ` +
    `final weights: ${formatBytes(weights.ram)} in RAM (views of the host tier), ${formatBytes(weights.disk)} kept on disk (read on access, or streamed to where they are saved)`
  );
}

/** What one device in RAM is counted for, and why: its budget, or what the job's models can use of it. */
function deviceWords(d: DevicesInRam): string {
  const counted = deviceBytesCounted(d);
  return counted < d.budget ? `${formatBytes(counted)}, what the job's models can use of ${formatBytes(d.budget)},` : formatBytes(d.budget);
}

/** How the default cap was chosen, for messages. */
function capWords(p: PreflightInput): string {
  const dev = devicesBytes(p.devices);
  return `the default, ${Math.round(DEFAULT_HOST_SHARE * 100)}% of ${ramWords(p.ram)} less ${dev > 0 ? `the devices' ${formatBytes(dev)} and ` : ''}the runtime's ${formatBytes(RUNTIME_ALLOWANCE)}`;
}

export function preflight(p: PreflightInput): void {
  // In RAM at once: the host tier (the plan's bytes, at most the cap), the devices that are this same RAM (each may
  // fill its budget, or as much as the job's models can use of it when that is less), and the runtime.
  const host = Math.min(p.hostBytes, p.hostCap), dev = devicesBytes(p.devices);
  if (host + dev + RUNTIME_ALLOWANCE > p.ram.bytes) {
    const d = p.devices;
    const devWords = d ? `, the ${d.count} ${d.kind} device${d.count === 1 ? "'s" : "s'"} budget${d.count === 1 ? '' : 's'} (${d.count} × ${deviceWords(d)} = ${formatBytes(dev)}: a ${d.kind} device's memory is this same RAM)` : '';
    const room = p.ram.bytes - dev - RUNTIME_ALLOWANCE;
    throw new PreflightError(
      `the job would hold ${formatBytes(host + dev + RUNTIME_ALLOWANCE)} in RAM — the host tier's ${formatBytes(host)} (hostMemory is ${formatBytes(p.hostCap)}${p.hostCapGiven ? '' : `: ${capWords(p)}`})${devWords} and the runtime's ` +
        `${formatBytes(RUNTIME_ALLOWANCE)} — more than the ${ramWords(p.ram)} of RAM this process may use: it would be killed for memory. ` +
        (room > 0
          ? `Lower hostMemory to at most ${formatBytes(room)} (the rest of the state then goes to disk)${d ? ', lower deviceMemory, or use fewer devices' : ''}.`
          : `The device budgets alone leave no room: lower deviceMemory or use fewer devices.`),
    );
  }
  if (p.hostFloor > p.hostCap) {
    throw new PreflightError(
      `the job needs at least ${formatBytes(p.hostFloor)} in RAM with as much on disk as helps (batches, the boundary gradient and tied ` +
        `parameters' values and gradients stay in RAM, shards on disk need staging slots, boundary activations on disk activation slots), more than hostMemory ${formatBytes(p.hostCap)}${p.hostCapGiven ? '' : ` (${capWords(p)})`}. ` +
        `Raise hostMemory${dev > 0 && !p.hostCapGiven ? ' (or lower deviceMemory: the devices\' budgets come out of the default)' : ''}, train fewer models at once, or lower the batch (task.train.B) or the sequence length (task.train.T).`,
    );
  }
  if (p.diskBytes > 0) {
    if (!p.spillDir) throw new PreflightError(`the plan puts ${formatBytes(p.diskBytes)} on disk but no spillDir is set`);
    const free = p.diskFree ?? freeDiskBytes(p.spillDir);
    const result = p.resultDiskBytes ?? 0;
    if (p.diskBytes + result > free) {
      throw new PreflightError(
        `the plan puts ${formatBytes(p.diskBytes)} of state on disk at spillDir ${p.spillDir}${result > 0 ? ` and the result keeps ${formatBytes(result)} of final weights there` : ''}, which has ${formatBytes(free)} free. ` +
          `Free space there, point spillDir at a larger disk, or raise hostMemory (now ${formatBytes(p.hostCap)}) so less goes to disk.`,
      );
    }
  }
}

/**
 * The spill directory exists (or, when `create`, is created) and takes a file: a typo or a read-only mount fails
 * here, before planning, with the field and the path.
 */
export function ensureSpillDir(dir: string, create: boolean, field = 'spillDir'): void {
  if (create) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new PreflightError(`${field}: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new PreflightError(`${field}: ${dir} does not exist (create it, or point ${field} at a directory on a disk with room for the scratch files)`);
  }
  if (!isDir) throw new PreflightError(`${field}: ${dir} is not a directory`);
  const probe = join(dir, `.hydra-probe-${process.pid}`);
  try {
    accessSync(dir, constants.W_OK);
    writeFileSync(probe, '');
  } catch (e) {
    throw new PreflightError(`${field}: cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); point ${field} at a writable directory`);
  } finally {
    rmSync(probe, { force: true });
  }
}
