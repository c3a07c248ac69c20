/**
 * The partitioner: cut a model's layer chain into shards so that every task of every shard, plus the prefetch
 * reserve, fits the device budget.
 *
 * Exact accounting, not guesses: a candidate shard's peak is obtained by running the real shard executor against an
 * accounting-only backend (src/hydra/plan/accounting-backend.ts), so the plan counts every buffer the run will allocate —
 * parameters, gradient accumulators, boundary activations, each layer's saved tensors and temporaries, the loss, the
 * chunked optimizer update. The pilot pass (src/hydra/plan/pilot.ts) supplies the per-layer times and the per-layer peaks
 * that are printed with the plan.
 */
import type { DeviceBytes } from '../../backend/backend.js';
import type { PartitionPlan, ShardPlan } from '../api.js';
import { accountingBackend } from './accounting-backend.js';
import { buildRuntime, type ShardRange } from '../run/model-runtime.js';
import { runShardTask, type ShardTask } from '../run/shard-executor.js';
import type { HostViews } from '../tier/host-state.js';
import type { LayerProfile } from './pilot.js';
import type { Model } from '../../nn/model.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import { formatBytes } from '../units.js';

export class LayerTooLargeError extends Error {
  /** The smallest device budget that holds the layer (with the prefetch reserve), when a budget is the cause. */
  constructor(message: string, readonly minBudget?: number) {
    super(message);
    this.name = 'LayerTooLargeError';
  }
}

export interface PartitionRequest {
  model: Model;
  recipe: TrainRecipe;
  B: number;
  T: number;
  budget: number;
  /** Per-buffer limit of the device (e.g. WebGPU's max storage binding), Infinity when none. */
  maxBufferBytes: number;
  profiles: LayerProfile[];
  /** A fixed prefetch reserve; default: the largest shard's parameter bytes (found by iteration). */
  reserve?: number;
  key: string;
  backend: string;
  /** The backend steps parameters in the host tier (cpu, js) rather than through device memory (webgpu). */
  hostUpdates: boolean;
  /** The backend's device bytes, where they differ from the bytes asked for (webgpu: size classes, kernel scratch). */
  deviceBytes?: DeviceBytes;
}

/** Peak device bytes of the forward-only and training tasks of shard [from, to). */
export interface ShardPeak {
  forward: number;
  train: number;
  /** Largest single buffer. */
  largest: number;
  /** Bytes of the distinct parameters the shard uses (a tied weight counts once). */
  paramBytes: number;
}

/** Peak device bytes of the forward-only and training tasks of shard [from, to). */
export async function shardPeak(
  model: Model, recipe: TrainRecipe, B: number, T: number, from: number, to: number, hostUpdates: boolean, deviceBytes?: DeviceBytes,
): Promise<ShardPeak> {
  const nLayers = model.layers.length;
  const shards: ShardRange[] = [];
  if (from > 0) shards.push({ from: 0, to: from });
  shards.push({ from, to });
  if (to < nLayers) shards.push({ from: to, to: nLayers });
  const rt = buildRuntime(model, shards, recipe, B, T);
  const k = from > 0 ? 1 : 0;
  const last = k === shards.length - 1;
  const measure = async (task: ShardTask, stash = false) => {
    const acct = accountingBackend(hostUpdates, deviceBytes);
    await runShardTask(acct.be, rt, phantomHost(B * T, rt.params.length, stash), task);
    return { peak: acct.be.stats().highWater, largest: acct.largestAlloc() };
  };
  const e = await measure({ kind: 'E', shard: k, step: 0 });
  // With activation offload a forward task keeps what the backward reads until it is copied out (always below the
  // backward's own peak, which holds the same plus the gradients: one plan serves both modes).
  const f = last ? e : await measure({ kind: 'F', shard: k, step: 0 });
  const fKeep = last ? e : await measure({ kind: 'F', shard: k, step: 0 }, true);
  const t = await measure({ kind: last ? 'FL' : 'B', shard: k, step: 0 });
  // Device bytes: what a prefetch of the shard's parameters takes, against the reserve.
  const paramBytes = rt.shardParams[k].reduce((a, p) => a + (deviceBytes ? deviceBytes.of(p.n * 4) : p.n * 4), 0);
  return { forward: Math.max(e.peak, f.peak, fKeep.peak), train: t.peak, largest: Math.max(e.largest, f.largest, fKeep.largest, t.largest), paramBytes };
}

/** Host views of the right shapes where shapes matter (targets decide the loss's row count); data is never read. */
function phantomHost(N: number, nParams: number, stash = false): HostViews {
  const empty = new Float32Array(0);
  const tokens = new Int32Array(N), targets = new Int32Array(N), sumsq = new Float64Array(nParams);
  return { param: () => empty, grad: () => empty, opt: () => empty, act: () => empty, dact: () => empty, tokens: () => tokens, targets: () => targets, sumsq: () => sumsq, stepsHere: () => true, stage: () => undefined, stageAct: () => undefined, stash: () => (stash ? empty : undefined) };
}

export async function partition(req: PartitionRequest): Promise<PartitionPlan> {
  const nLayers = req.profiles.length;
  const plan = (reserve: number, shards: ShardPlan[]): PartitionPlan => ({ key: req.key, arch: req.model.arch, backend: req.backend, B: req.B, T: req.T, budget: req.budget, reserve, shards });
  // The reserve must hold the next shard's parameters. Start from the largest layer's (a lower bound for any plan)
  // and grow it to the largest shard's until the cut is self-consistent. Growing it can make a layer that fitted
  // stop fitting; then cap every shard's parameters at the first reserve instead, which always fits (more shards).
  const firstReserve = req.reserve ?? Math.max(...req.profiles.map((p) => p.paramBytes));
  // A shard's peak does not depend on the reserve: each candidate is dry-run once, whatever the iterations ask; and
  // candidates made of the same run of layer shapes (h.3-h.8 and h.9-h.14) are one dry run.
  const known = new Map<string, Promise<ShardPeak>>();
  const peakOf: PeakOf = (from, to) => {
    const key = layerRunKey(req.profiles, from, to);
    let p = known.get(key);
    if (!p) known.set(key, (p = shardPeak(req.model, req.recipe, req.B, req.T, from, to, req.hostUpdates, req.deviceBytes)));
    return p;
  };
  await refuseLayersTooLarge(req, firstReserve, nLayers, peakOf);
  let reserve = firstReserve;
  for (let iter = 0; ; iter++) {
    let shards: ShardPlan[];
    try {
      shards = await greedyCut(req, peakOf, reserve, nLayers);
    } catch (e) {
      if (!(e instanceof LayerTooLargeError) || iter === 0) throw e;
      return plan(firstReserve, await greedyCut(req, peakOf, firstReserve, nLayers, firstReserve));
    }
    const needed = Math.max(...shards.map((s) => s.paramBytes));
    if (req.reserve !== undefined || needed <= reserve) return plan(reserve, shards);
    if (iter >= 20) return plan(firstReserve, await greedyCut(req, peakOf, firstReserve, nLayers, firstReserve));
    reserve = needed;
  }
}

/** Greedy: each shard takes layers while its peak plus the reserve fits (and its parameters stay under `paramCap`). */
type PeakOf = (from: number, to: number) => Promise<ShardPeak>;

async function greedyCut(req: PartitionRequest, peakOf: PeakOf, reserve: number, nLayers: number, paramCap = Infinity): Promise<ShardPlan[]> {
  const shards: ShardPlan[] = [];
  let from = 0;
  while (from < nLayers) {
    let to = from + 1;
    let peak = await peakOf(from, to);
    refuseIfTooLarge(req, from, peak, reserve);
    while (to < nLayers) {
      const next = await peakOf(from, to + 1);
      if (Math.max(next.forward, next.train) + reserve > req.budget || next.largest > req.maxBufferBytes || next.paramBytes > paramCap) break;
      to++;
      peak = next;
    }
    shards.push(shardPlan(req, from, to, peak));
    from = to;
  }
  return shards;
}

function shardPlan(req: PartitionRequest, from: number, to: number, peak: ShardPeak): ShardPlan {
  const layers = req.profiles.slice(from, to);
  return {
    from,
    to,
    layerNames: layers.map((l) => l.name),
    paramBytes: peak.paramBytes,
    inputBytes: (from === 0 ? req.B * req.T : req.model.layers[from - 1].outputLength(req.B, req.T)) * 4,
    peakBytes: { forward: peak.forward, train: peak.train },
    seconds: { forward: sum(layers.map((l) => l.forwardSeconds)), backward: sum(layers.map((l) => l.backwardSeconds)) },
  };
}

/**
 * Every layer must fit alone. Check them all before cutting and name the one that needs the most, so the budget the
 * error recommends is enough for the whole model, not just for the first layer that failed.
 */
async function refuseLayersTooLarge(req: PartitionRequest, reserve: number, nLayers: number, peakOf: PeakOf): Promise<void> {
  let worst: { layer: number; peak: ShardPeak } | null = null;
  for (let i = 0; i < nLayers; i++) {
    const peak = await peakOf(i, i + 1);
    if (peak.largest > req.maxBufferBytes) refuseIfTooLarge(req, i, peak, reserve);
    if (!worst || Math.max(peak.forward, peak.train) > Math.max(worst.peak.forward, worst.peak.train)) worst = { layer: i, peak };
  }
  if (worst) refuseIfTooLarge(req, worst.layer, worst.peak, reserve);
}

function refuseIfTooLarge(req: PartitionRequest, layer: number, peak: ShardPeak, reserve: number): void {
  const p = req.profiles[layer];
  const need = Math.max(peak.forward, peak.train);
  const batch = `batch ${req.B} × ${req.T} tokens`;
  if (peak.largest > req.maxBufferBytes) {
    throw new LayerTooLargeError(
      `layer '${p.name}' needs a single buffer of ${formatBytes(peak.largest)} with ${batch}, but the device binds at most ` +
        `${formatBytes(req.maxBufferBytes)} per buffer: use a smaller batch (task.train.B) or sequence length (task.train.T) (or a device with a larger binding limit)`,
    );
  }
  if (need + reserve > req.budget) {
    throw new LayerTooLargeError(
      `layer '${p.name}' cannot fit the device even alone: it needs ${formatBytes(need)} (${need} bytes) to train with ${batch} ` +
        `(parameters ${formatBytes(p.paramBytes)}), plus a prefetch reserve of ${formatBytes(reserve)}, but the device budget is ` +
        `${formatBytes(req.budget)} (${req.budget} bytes). Use a smaller batch (task.train.B) or sequence length (task.train.T), or a larger deviceMemory ` +
        `(at least ${formatBytes(need + reserve)}).`,
      need + reserve,
    );
  }
}

/**
 * What a dry run of shard [from, to) depends on: whether it holds the first layer and the last (the tokens, the
 * loss, and the tied weight's two users), and its layers' shapes. Layers whose pilot profile carries no shape are
 * told apart by position.
 */
export function layerRunKey(profiles: LayerProfile[], from: number, to: number): string {
  const shapes = profiles.slice(from, to).map((p, i) => (p.shape === undefined ? `#${from + i}` : JSON.stringify(p.shape)));
  return `${from === 0 ? 'first' : ''}|${to === profiles.length ? 'last' : ''}|${shapes.join(',')}`;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
