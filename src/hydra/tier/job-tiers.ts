/**
 * The three tiers of one job, behind one accountant: the host tier (hard cap `hostMemory`, by default a share of
 * physical RAM), the disk tier (scratch files in `spillDir`), and, per model, where its state was placed. train()
 * plans every model, then asks `place` where each one's state goes (the preflight refuses a job that cannot run,
 * before anything trains), allocates the RAM part from `host`, and `attach`es the disk part. `close` removes every
 * scratch file the job made.
 */
import { availableParallelism } from 'node:os';
import type { Backend } from '../../backend/backend.js';
import { createBackendOrFallback } from '../../backend/index.js';
import type { PartitionPlan } from '../api.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import { parseBytes } from '../units.js';
import { ChunkBuffer } from './disk-step.js';
import { ModelDiskState } from './disk-state.js';
import type { HostStateBuffers, HostViews } from './host-state.js';
import { HostTier } from './host-tier.js';
import { defaultHostMemory, deviceNeed, physicalMemory, withDeviceNeed, type DevicesInRam, type PhysicalMemory } from './physical-memory.js';
import { ResultWeightsFile, weightsOnDiskBytes } from './result-weights.js';
import { withActivationOffload, type ActivationMode } from './activation-offload.js';
import { placeJob, type JobPlacement, type ModelPlacement } from './placement.js';
import { StagingPool } from './staging.js';
import { ensureSpillDir, preflight } from './preflight.js';
import { sweepScratch } from './scratch-file.js';

export interface TierOptions {
  hostMemory?: number | string;
  /** Where scratch files go; null: no disk tier (state that does not fit the host cap is refused). */
  spillDir?: string | null;
  /** Whether spillDir was given by the user (checked at once) or is a default (created when first needed). */
  spillDirGiven?: boolean;
  /** Devices running tasks at once: the staging pool has SLOTS_PER_DEVICE slots per device. */
  devices?: number;
  /** Devices whose memory is this same RAM (cpu, js): counted beside the host tier by the default cap and the preflight. */
  devicesInRam?: DevicesInRam;
  /** Final weights of state on disk are streamed to the caller (TrainOptions.streamWeights), not kept in a result file. */
  weightsStreamed?: boolean;
  /** Recompute each shard's forward in its backward task, or offload its activations when RAM allows (activation-offload.ts). */
  activations?: ActivationMode;
}

export interface DiskTierStats {
  /** Bytes of scratch the job's models hold on disk (allocated size) and the most at once. */
  inUse: number;
  highWater: number;
  bytesRead: number;
  bytesWritten: number;
  /** Read ahead for a device's next task (disk-state.ts readAhead), and of those copied to the device before it. */
  aheadReadBytes: number;
  aheadUploadedBytes: number;
}

export class JobTiers {
  readonly host: HostTier;
  private chunk: ChunkBuffer | null = null;
  /** The staging pool of the models placed last with shards on disk (earlier ones keep theirs when it was replaced). */
  private pool: StagingPool | null = null;
  private stepBackend: Promise<Backend> | null = null;
  private readonly disks = new Set<ModelDiskState>();
  private diskInUse = 0;
  private diskHighWater = 0;
  private readonly io = { read: 0, written: 0, aheadRead: 0, aheadUploaded: 0 };
  private spillReady = false;
  private results: ResultWeightsFile | null = null;

  /** What one device in RAM can hold for the models placed so far: their state, and the heaviest task's peak. */
  private readonly deviceNeed = { state: 0, peak: 0 };

  private constructor(
    hostCap: number,
    readonly hostCapGiven: boolean,
    readonly ram: PhysicalMemory,
    readonly spillDir: string | null,
    private readonly spillDirGiven: boolean,
    private readonly devices: number,
    private devicesInRam: DevicesInRam | undefined,
    private readonly weightsStreamed: boolean,
    private readonly activations: ActivationMode,
  ) {
    this.host = new HostTier(hostCap);
  }

  /** Sweeps scratch left by crashed jobs; `log` says what was removed. */
  static create(o: TierOptions, log: (m: string) => void): JobTiers {
    const ram = physicalMemory();
    const given = o.hostMemory !== undefined;
    const cap = given ? parseBytes(o.hostMemory!, 'hostMemory') : defaultHostMemory(ram, o.devicesInRam);
    const t = new JobTiers(cap, given, ram, o.spillDir ?? null, o.spillDirGiven ?? false, o.devices ?? 1, o.devicesInRam, o.weightsStreamed ?? false, o.activations ?? 'recompute');
    if (t.spillDir && t.spillDirGiven) t.readySpill();
    if (t.spillDir) for (const p of sweepScratch(t.spillDir)) log(`removed ${p}, scratch left by a job that did not end (crashed or killed)`);
    return t;
  }

  private readySpill(): string {
    if (!this.spillDir) throw new Error('no spillDir');
    if (!this.spillReady) ensureSpillDir(this.spillDir, !this.spillDirGiven, this.spillDirGiven ? 'spillDir' : 'spillDir (default)');
    this.spillReady = true;
    return this.spillDir;
  }

  /**
   * Where each new model's state goes, within what the host tier has left; refused (PreflightError) when it cannot run.
   * Without a spill directory everything must fit in RAM.
   */
  place(models: { name: string; rt: ModelRuntime; plan: PartitionPlan }[]): JobPlacement {
    this.countDeviceNeed(models);
    const inUse = this.host.stats().inUse;
    const held = {
      chunk: this.chunk ? { elems: this.chunk.chunk, arrays: this.chunk.arrays } : null,
      staging: this.pool ? { slotBytes: this.pool.slotBytes, count: this.pool.buffers.length } : null,
    };
    const p = withActivationOffload(placeJob(models, this.spillDir ? this.host.budget - inUse : Infinity, this.devices, held), models, this.host.budget - inUse, this.activations);
    preflight({
      hostBytes: inUse + p.hostBytes,
      hostFloor: inUse + (this.spillDir ? p.hostFloor : p.hostBytes),
      diskBytes: p.diskBytes,
      resultDiskBytes: this.weightsStreamed ? 0 : p.models.reduce((a, m, i) => a + weightsOnDiskBytes(models[i].rt, m), 0),
      devices: this.devicesInRam,
      hostCap: this.host.budget,
      hostCapGiven: this.hostCapGiven,
      ram: this.ram,
      spillDir: p.diskBytes > 0 ? this.readySpill() : undefined,
    });
    return p;
  }

  /**
   * Devices in RAM are counted for what the models placed so far can use of them, when that is below their budgets;
   * the default host cap then grows by what they do not need (never shrinks: earlier placements stay within it).
   */
  private countDeviceNeed(models: { rt: ModelRuntime; plan: PartitionPlan }[]): void {
    if (!this.devicesInRam) return;
    const { state, peak } = deviceNeed(models);
    this.deviceNeed.state += state;
    this.deviceNeed.peak = Math.max(this.deviceNeed.peak, peak);
    this.devicesInRam = withDeviceNeed(this.devicesInRam, this.deviceNeed);
    if (!this.hostCapGiven) this.host.raiseBudget(defaultHostMemory(this.ram, this.devicesInRam));
  }

  /**
   * The staging slots of a placed model with shards on disk (the job's pool, allocated with the first such model of
   * its placement, or the held one when that is large enough); undefined without disk shards.
   */
  staging(job: JobPlacement, m: ModelPlacement): StagingPool | undefined {
    if (m.slotBytes === 0 || !job.staging) return undefined;
    if (job.stagingBytes > 0) {
      const { slotBytes, count } = job.staging;
      // Models placed earlier keep the pool they were given (it stays accounted); the new one serves these.
      this.pool = new StagingPool(Array.from({ length: count }, (_, i) => this.host.alloc(slotBytes, `disk tier: staging slot ${i} of ${count}`)));
      job.stagingBytes = 0;
    }
    return this.pool!;
  }

  /** The disk part of a placed model (undefined when all of it is in RAM). Call after allocating its host state. */
  async attach(rt: ModelRuntime, job: JobPlacement, m: ModelPlacement, buffers: HostStateBuffers, views: HostViews): Promise<ModelDiskState | undefined> {
    if (m.diskBytes === 0) return undefined;
    if (job.chunkBytes > 0 && job.chunk) {
      // Models placed earlier keep the buffer they were given (it stays accounted); the new one serves these.
      this.chunk = new ChunkBuffer(this.host.alloc(job.chunkBytes, 'disk tier: chunk buffer of streamed optimizer steps'), job.chunk.elems, job.chunk.arrays);
      job.chunkBytes = 0;
    }
    this.stepBackend ??= createBackendOrFallback('cpu', { threads: availableParallelism(), budget: 1 << 20 }, () => undefined);
    const d = await ModelDiskState.create(rt, m, this.readySpill(), buffers, views, this.chunk!, await this.stepBackend, this.staging(job, m) ?? null);
    this.disks.add(d);
    this.diskInUse += m.diskBytes;
    this.diskHighWater = Math.max(this.diskHighWater, this.diskInUse);
    return d;
  }

  /** The file the result keeps final weights of parameters on disk in (tier/result-weights.ts), opened when first needed. */
  resultWeights(): ResultWeightsFile {
    return (this.results ??= new ResultWeightsFile(this.readySpill()));
  }

  /** A model's scratch is no longer needed (it ended, or was stopped). */
  async detach(d: ModelDiskState): Promise<void> {
    if (!this.disks.delete(d)) return;
    await d.remove();
    this.io.read += d.io.read;
    this.io.written += d.io.written;
    this.io.aheadRead += d.ahead.read;
    this.io.aheadUploaded += d.ahead.uploaded;
    this.diskInUse -= d.placement.diskBytes;
  }

  diskStats(): DiskTierStats {
    let read = this.io.read, written = this.io.written, aheadRead = this.io.aheadRead, aheadUploaded = this.io.aheadUploaded;
    for (const d of this.disks) {
      read += d.io.read;
      written += d.io.written;
      aheadRead += d.ahead.read;
      aheadUploaded += d.ahead.uploaded;
    }
    return { inUse: this.diskInUse, highWater: this.diskHighWater, bytesRead: read, bytesWritten: written, aheadReadBytes: aheadRead, aheadUploadedBytes: aheadUploaded };
  }

  /** Remove every scratch file (the job ended, normally or not). */
  async close(): Promise<void> {
    for (const d of [...this.disks]) await this.detach(d);
    const be = await this.stepBackend?.catch(() => null);
    be?.dispose();
  }
}
