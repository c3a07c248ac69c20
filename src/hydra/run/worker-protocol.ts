/** Messages between the orchestrator (main thread) and a device worker. Plain data; SharedArrayBuffers are shared. */
import type { BackendKind } from '../../backend/index.js';
import type { ArchSpec } from '../../nn/family.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import type { HostStateBuffers } from '../tier/host-state.js';
import type { ShardRange } from './model-runtime.js';
import type { ShardOutcome, ShardTask } from './shard-executor.js';
import type { PrefetchTotals } from '../api.js';
import type { CacheTotals, ResidentShard } from './shard-cache.js';
import type { PlannedRoom } from './device-state.js';
import type { TaskTiming } from './task-timing.js';

export interface DeviceInit {
  kind: BackendKind;
  threads: number;
  budget: number;
  deviceIndex: number;
  /** Keep shard parameters on the device between tasks (default true; false: every task copies its shard in). */
  shardCache?: boolean;
}

export type ToWorker =
  /** The worker rebuilds the model from its spec (importing the spec's module for a family it does not know yet). */
  | {
      type: 'register'; modelId: string; arch: ArchSpec; shards: ShardRange[]; recipe: TrainRecipe; B: number; T: number; buffers: HostStateBuffers;
      /**
       * The plan's per-shard peaks and reserve: what a task needs beside resident state (device-state.ts). Without
       * it, nothing stays dirty beside the model's tasks and it keeps the host-tier optimizer.
       */
      room?: PlannedRoom;
      /** Optimizer steps of its steppable shards may run on the device against resident state (device-state.ts). */
      deviceState?: boolean;
    }
  /** Write the model's (or one shard's) device-resident state back to the host tier; answered by 'written'. */
  | { type: 'writeback'; id: number; modelId: string; shard?: number }
  /** The model ended early (its host state is released): drop its runtime, views and any prefetch of it. */
  | { type: 'unregister'; modelId: string }
  | {
      type: 'run';
      id: number;
      modelId: string;
      task: ShardTask;
      /**
       * How many times the task's shard parameters have been stepped so far. A prefetch made at another version is
       * stale (a step landed after its copy began) and is dropped.
       */
      paramsVersion: number;
      prefetch: { modelId: string; shard: number; paramsVersion: number } | null;
    }
  /**
   * Two-level prefetch: the next task's shard, read from disk into host slot `slot` (pinned there meanwhile), is
   * copied to the device while run `runId` computes, if no other prefetch is under way. Answered by 'staged' once the
   * copies have landed (or at once, with 0 bytes, when declined).
   */
  | { type: 'stage'; id: number; runId: number; modelId: string; shard: number; paramsVersion: number; slot: number }
  | { type: 'shutdown' };

export interface TaskReport {
  outcome: ShardOutcome;
  /** Seconds from the task's start to its end on the worker. */
  seconds: number;
  /** Seconds of prefetch copying (for the NEXT task) that ran while this task computed. */
  overlapSeconds: number;
  highWater: number;
  /** Device bytes held (live + pooled), most at once, where the backend pools buffers (MemoryStats.heldHighWater). */
  heldHighWater?: number;
  /** Buffers the device's memory region had no room for so far (MemoryStats.outsideRegion), where it has one. */
  outsideRegion?: number;
  inUse: number;
  prefetch: PrefetchTotals;
  /** The device's shard-cache counters so far, and what is resident after this task (least recently used first). */
  cache: CacheTotals;
  resident: ResidentShard[];
  /** Shards whose only current copy (values and optimizer state) is on this device. */
  dirty: ResidentShard[];
  /** Where the device's time around the task went. */
  timing: TaskTiming;
}

export type FromWorker =
  | { type: 'ready'; name: string; budget: number; maxBufferBytes: number }
  | { type: 'done'; id: number; report: TaskReport }
  | { type: 'written'; id: number; cache: CacheTotals; dirty: ResidentShard[] }
  | { type: 'staged'; id: number; bytes: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'stopped'; prefetch: PrefetchTotals; cache: CacheTotals }
  | { type: 'fatal'; message: string };
