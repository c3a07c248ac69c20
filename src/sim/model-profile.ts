/**
 * The simulator's model profiles, from real models: any architecture the family registry builds (GPT-2, Llama, a
 * user's own family) is cut by the real partitioner, so shard counts, per-shard parameter bytes, boundary bytes and
 * peaks are exactly the plan a job would use on a device of that memory; the plan becomes simulator shards by the
 * one mapping bench:grid also uses (from-plans.ts).
 *
 * Nothing is computed and nothing is allocated: the pilot pass and the partitioner's dry runs both run on the
 * accounting backend (src/hydra/plan/accounting-backend.ts). The pilot's clock is a cost model instead of the wall
 * clock: it advances by the FLOPs of the matrix products the layers ask for (2·M·N·K each; the elementwise kernels
 * are left out, a few percent of a transformer's work) at `tflops` sustained (default 10 TFLOP/s: a 16 GB V100-class
 * GPU in fp32). The budget is the device's whole memory (the partitioner keeps the prefetch reserve inside it). The
 * optimizer steps in the host tier (`hostUpdates`, the cpu executor's path): the device-side update would add only
 * its few-MiB chunk buffers to a shard's peak, and dry-running it chunk by chunk would double the profile's time.
 *
 * A plan depends only on (architecture, batch shape, budget, throughput): plans are cached per process by those, so
 * a 1,000-model preset costs one pilot and one partitioning per distinct shape.
 */
import type { Backend } from '../backend/backend.js';
import type { PartitionPlan } from '../hydra/api.js';
import { accountingBackend } from '../hydra/plan/accounting-backend.js';
import { partition } from '../hydra/plan/partitioner.js';
import { pilotLayers } from '../hydra/plan/pilot.js';
import { buildArch, describeArch, resolveArch } from '../nn/families.js';
import type { ArchSpec } from '../nn/family.js';
import { ADAMW_DEFAULTS } from '../optim/optimizer.js';
import type { TrainRecipe } from '../optim/recipe.js';
import { CONSTANT_LR } from '../optim/schedule.js';
import { gradInBytes, simShards } from './from-plans.js';
import { buildRuntime } from '../hydra/run/model-runtime.js';
import type { SimShard } from './types.js';

export const DEFAULT_TFLOPS = 10;

export interface ProfileRequest {
  arch: ArchSpec;
  /** Batch size and tokens per sequence. */
  B: number;
  T: number;
  /** The device budget the plan must fit. */
  deviceMemory: number;
  /** Sustained TFLOP/s of a speed-1 device (default DEFAULT_TFLOPS). */
  tflops?: number;
}

/** AdamW without clipping: what the executor allocates for the presets' fine-tuning (the rate changes no cost). */
export const PROFILE_RECIPE: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: CONSTANT_LR, clipNorm: 0, totalSteps: 1, seed: 0 };

/** The accounting backend, with a count of the FLOPs of the matrix products asked of it. */
function flopCounting(be: Backend): { be: Backend; flops: () => number } {
  let flops = 0;
  const counted = new Proxy(be, {
    get(target, prop) {
      if (prop === 'gemm') {
        return (...a: Parameters<Backend['gemm']>) => {
          flops += 2 * a[2] * a[3] * a[4];
          return target.gemm(...a);
        };
      }
      if (prop === 'gemmBatched') {
        return (...a: Parameters<Backend['gemmBatched']>) => {
          flops += 2 * a[0] * a[3] * a[4] * a[5];
          return target.gemmBatched(...a);
        };
      }
      return (target as unknown as Record<string | symbol, unknown>)[prop];
    },
  });
  return { be: counted, flops: () => flops };
}

const plans = new Map<string, Promise<PartitionPlan>>();

/** The partition plan of `r` (cached per process), with pilot seconds from the FLOP clock. */
export function modelPlan(r: ProfileRequest): Promise<PartitionPlan> {
  const arch = resolveArch(r.arch);
  const tflops = r.tflops ?? DEFAULT_TFLOPS;
  for (const [k, v] of Object.entries({ B: r.B, T: r.T })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k}: expected a positive integer, got ${JSON.stringify(v)}`);
  }
  if (!(r.deviceMemory > 0)) throw new RangeError(`deviceMemory: expected a byte count > 0, got ${JSON.stringify(r.deviceMemory)}`);
  if (!(tflops > 0) || !Number.isFinite(tflops)) throw new RangeError(`tflops: expected a number > 0, got ${JSON.stringify(r.tflops)}`);
  const key = JSON.stringify([arch.family, arch.config, r.B, r.T, r.deviceMemory, tflops]);
  let plan = plans.get(key);
  if (!plan) {
    plan = planOnAccounting(arch, r.B, r.T, r.deviceMemory, tflops);
    plans.set(key, plan);
    plan.catch(() => plans.delete(key)); // an error is not cached (the caller sees it)
  }
  return plan;
}

async function planOnAccounting(arch: ArchSpec, B: number, T: number, budget: number, tflops: number): Promise<PartitionPlan> {
  const model = buildArch(arch);
  if (T > model.nCtx) throw new RangeError(`T: ${T} tokens is longer than ${describeArch(arch)}'s context of ${model.nCtx}`);
  const hostUpdates = true;
  const counter = flopCounting(accountingBackend(hostUpdates).be);
  const clock = () => counter.flops() / (tflops * 1e12);
  const profiles = await pilotLayers(counter.be, model, new Int32Array(B * T), B, T, PROFILE_RECIPE.seed, { clock });
  return partition({
    model, recipe: PROFILE_RECIPE, B, T, budget, maxBufferBytes: Infinity, profiles, hostUpdates,
    key: `sim:${model.arch}:${B}x${T}`, backend: `sim:${tflops}tflops`,
  });
}

/** The simulator shards of `r`'s plan (a fresh copy: callers may change them), with the executor's copies per task. */
export async function modelShards(r: ProfileRequest): Promise<SimShard[]> {
  const plan = await modelPlan(r);
  const rt = buildRuntime(buildArch(resolveArch(r.arch)), plan.shards, PROFILE_RECIPE, r.B, r.T);
  return simShards(plan, { gradInBytes: gradInBytes(rt) });
}
