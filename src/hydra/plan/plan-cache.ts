/**
 * Partition plans: computed once per (architecture, batch shape, dtype, budget, backend, optimizer state count) by a
 * pilot pass + the partitioner, saved as JSON keyed by a hash of those inputs, and reused by later runs without a
 * pilot pass.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../../backend/backend.js';
import type { Model } from '../../nn/model.js';
import { stateNames } from '../../optim/optimizer.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import type { PartitionPlan } from '../api.js';
import { partition } from './partitioner.js';
import { pilotLayers } from './pilot.js';
import { formatBytes } from '../units.js';
import { sweepStaleTemps, writeFileAtomicSync } from '../../data/atomic-write.js';

/** Bumped whenever a plan of the same request would differ (6: forward peaks count a forward that keeps its activations for offload). */
export const PLANNER_VERSION = 6;

/** cpu and js devices step parameters in the host tier in place; webgpu streams them through device memory. */
export function hostUpdatesFor(backendKey: string): boolean {
  return !backendKey.startsWith('webgpu');
}

export interface PlanInputs {
  model: Model;
  recipe: TrainRecipe;
  B: number;
  T: number;
  budget: number;
  /** e.g. 'cpu:1t' — kind and threads: what the measured times and bytes depend on. */
  backendKey: string;
  maxBufferBytes: number;
  reserve?: number;
}

/**
 * The model enters the key by what its bytes and times depend on: its `arch` (which leaves out what changes neither,
 * like dropout) and the chain itself — each layer's kind, output size and parameters — so that a user's own layer
 * whose shapes change gets a new plan even if its arch string does not.
 */
export function planKey(i: PlanInputs): string {
  const material = JSON.stringify({
    v: PLANNER_VERSION,
    arch: i.model.arch,
    layers: i.model.layers.map((l) => [l.name, l.constructor.name, l.inputDType, l.outputLength(i.B, i.T), l.uses]),
    params: i.model.params.map((p) => [p.name, p.shape]),
    B: i.B,
    T: i.T,
    dtype: 'f32',
    budget: i.budget,
    backend: i.backendKey,
    optimizerStates: stateNames(i.recipe.optimizer).length,
    clipping: i.recipe.clipNorm > 0,
    reserve: i.reserve ?? null,
  });
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

export interface PlanResult {
  plan: PartitionPlan;
  reused: boolean;
  path: string | null;
}

/** Load the cached plan or make one with a pilot pass on `pilotBackend`; `progress` hears what a cold plan is doing. */
export async function planFor(
  i: PlanInputs, pilotBackend: () => Promise<Backend>, sampleTokens: Int32Array, planDir: string | null, progress?: (message: string) => void,
): Promise<PlanResult> {
  const key = planKey(i);
  const path = planDir ? join(planDir, `${key}.json`) : null;
  if (path && existsSync(path)) {
    try {
      const plan = JSON.parse(readFileSync(path, 'utf8')) as PartitionPlan;
      if (plan.key === key && Array.isArray(plan.shards) && plan.shards.length > 0) return { plan, reused: true, path };
    } catch {
      // a damaged cache entry is recomputed below
    }
  }
  const be = await pilotBackend();
  const deviceBytes = be.deviceBytes;
  let profiles;
  try {
    const distinct = new Set(i.model.layers.map((l, k) => l.shapeKey ?? `#${k}`)).size;
    let measured = 0;
    const onLayer = (l: { name: string }) => progress?.(`pilot pass: measuring layer ${l.name} (${++measured} of ${distinct} distinct)`);
    profiles = await pilotLayers(be, i.model, sampleTokens, i.B, i.T, i.recipe.seed, { onLayer });
  } finally {
    be.dispose();
  }
  progress?.('partitioning (dry runs on the accounting backend)');
  const plan = await partition({ model: i.model, recipe: i.recipe, B: i.B, T: i.T, budget: i.budget, maxBufferBytes: i.maxBufferBytes, profiles, reserve: i.reserve, key, backend: i.backendKey, hostUpdates: hostUpdatesFor(i.backendKey), deviceBytes });
  if (path && planDir) {
    // Atomic (a killed run leaves no half-written plan), and temp files of runs killed mid-write are swept.
    sweepStaleTemps(planDir, 0);
    writeFileAtomicSync(path, [Buffer.from(JSON.stringify({ ...plan, layers: profiles }, null, 2))]);
  }
  return { plan, reused: false, path };
}

/** The plan as a few readable lines. */
export function formatPlan(plan: PartitionPlan): string {
  const lines = [
    `plan ${plan.key}: ${plan.arch}, batch ${plan.B}x${plan.T}, ${plan.backend}, budget ${formatBytes(plan.budget)}, ` +
      `prefetch reserve ${formatBytes(plan.reserve)} → ${plan.shards.length} shard${plan.shards.length === 1 ? '' : 's'}`,
  ];
  plan.shards.forEach((s, k) => {
    const names = s.layerNames.length > 3 ? `${s.layerNames[0]} … ${s.layerNames[s.layerNames.length - 1]}` : s.layerNames.join(' ');
    lines.push(
      `  shard ${k}: layers ${s.from}-${s.to - 1} (${names}), params ${formatBytes(s.paramBytes)}, peak fwd ${formatBytes(s.peakBytes.forward)} / ` +
        `train ${formatBytes(s.peakBytes.train)}, pilot ${(s.seconds.forward * 1000).toFixed(1)} ms fwd + ${(s.seconds.backward * 1000).toFixed(1)} ms bwd`,
    );
  });
  return lines.join('\n');
}
