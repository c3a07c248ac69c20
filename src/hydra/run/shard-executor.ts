/**
 * Runs one shard task of one model on one device, against the model's host-tier state:
 *   F  k   forward of shard k from its checkpointed input; the output boundary activation goes to the host tier.
 *   FL n-1 last shard: forward (its last layer is the fused LM head + loss), backward; dx to the host tier.
 *   B  k   recompute shard k's forward (same dropout masks: counter-based), backward from dy; dx to the host tier.
 *          With activation offload (the host tier holds a stash for shard k: activation-stash.ts), F keeps what the
 *          backward reads and copies it to the stash, and B copies it back instead of recomputing.
 *   E  k   evaluation forward (no dropout); the last shard returns the summed loss.
 * Gradients go back to the host tier after every FL/B. A parameter whose gradient became final in this task has its
 * squared norm recorded; it is stepped here too, unless global-norm clipping makes every step wait for the norm,
 * in which case shard 0's task steps them all once every squared norm is known. With `deviceState` (device-state.ts)
 * the task's own parameters are stepped on the device instead, against optimizer state kept there: their gradients
 * and new values never cross to the host (the caller keeps values and state resident and writes them back later).
 *
 * The kernel sequence per buffer is exactly LocalTrainer's, which is what makes sharded training bitwise equal to
 * unsharded training. Every device allocation goes through the backend's budgeted allocator, and the partitioner
 * predicts this function's peak by running it against an accounting-only backend.
 */
import type { Backend, DeviceBuffer } from '../../backend/backend.js';
import type { DeviceOptState } from './shard-cache.js';
import { backwardRange, forwardRange, type RangeForward } from '../../nn/chain.js';
import { stashIn, stashWriter } from './activation-stash.js';
import type { DeviceParams, RunContext } from '../../nn/layer.js';
import { lossTargets, meanLoss } from '../../nn/loss.js';
import { clipScale, globalNorm } from '../../optim/clip.js';
import { applyUpdate, applyUpdateHost, stateNames } from '../../optim/optimizer.js';
import { recipeLr } from '../../optim/recipe.js';
import type { TaskKind } from '../api.js';
import type { HostViews } from '../tier/host-state.js';
import { gradFinalHere, gradStartsHere, type ModelRuntime, type ParamPlacement } from './model-runtime.js';
import { phaseClock, type TaskPhases } from './task-timing.js';

export interface ShardTask {
  kind: TaskKind;
  shard: number;
  /** Global training step: keys dropout masks, selects the learning rate and the optimizer's t. */
  step: number;
  /** The host slot the disk tier staged this shard in (when its parameters live on disk). */
  slot?: number;
  /** [boundary, activation slot] of its input and output activations that live on disk (disk-boundaries.ts). */
  acts?: [number, number][];
}

export interface ShardOutcome {
  /** FL: mean training loss. E (last shard): summed loss and counted tokens. */
  loss?: number;
  lossSum?: number;
  count?: number;
  /** Set by the task that completed the step (shard 0's B, or FL when unsharded). */
  gradNorm?: number;
  lr?: number;
  bytesIn: number;
  bytesOut: number;
  /** Seconds the task waited for its own copies (what the scheduler's switching cost is measured from). */
  copySeconds: number;
  /** Bytes of parameter values already on the device when the task began (prefetched, or resident in the shard cache). */
  prefetchedBytes: number;
  /** Where the task's time went (task-timing.ts). */
  phases: TaskPhases;
}

/** Parameter values already on the device (prefetched), keyed by name; the executor takes ownership. */
export type Prefetched = Map<string, DeviceBuffer>;

/**
 * Offered the task's parameter values once it no longer reads them (the device shard cache); returns whether it took
 * them — otherwise they are freed here. `stepped`: the task stepped them on the device (they are a new version).
 */
export type KeepValues = (values: Map<string, DeviceBuffer>, stepped: boolean) => boolean;

/** Elements per chunk of an optimizer update: bounds its device footprint to 4 × 4 MiB. */
export const UPDATE_CHUNK = 1 << 20;

/**
 * `deviceState`: step this shard's own parameters (used by no other shard) on the device, with their optimizer state
 * from this map — state missing from it is copied in from the host tier and added. The caller owns the map's buffers.
 */
export async function runShardTask(be: Backend, rt: ModelRuntime, host: HostViews, task: ShardTask, prefetched: Prefetched = new Map(), keep?: KeepValues, deviceState?: DeviceOptState): Promise<ShardOutcome> {
  const { kind, shard } = task;
  const last = rt.shards.length - 1;
  if (shard < 0 || shard > last) throw new RangeError(`task ${kind}${shard}: the model has ${rt.shards.length} shards`);
  if (kind === 'FL' && shard !== last) throw new RangeError(`FL runs on the last shard (${last}), not ${shard}`);
  if ((kind === 'F' || kind === 'B') && shard === last) throw new RangeError(`${kind} tasks run on shards 0..${last - 1}`);
  const clock = phaseClock();
  const out: ShardOutcome = { bytesIn: 0, bytesOut: 0, copySeconds: 0, prefetchedBytes: 0, phases: clock.phases };
  const copy = {
    in: (b: DeviceBuffer, src: Float32Array | Int32Array) => timed(clock, 'copyIn', () => upload(be, b, src, out)),
    out: (b: DeviceBuffer, dst: Float32Array | Int32Array) => timed(clock, 'copyOut', () => download(be, b, dst, out)),
  };
  const train = kind === 'FL' || kind === 'B';
  const used = rt.shardParams[shard];
  if (task.slot !== undefined) host.stage(shard, task.slot);
  for (const [k, slot] of task.acts ?? []) host.stageAct(k, slot);

  // ---- promote the shard's parameters (and, for training tasks, its gradient accumulators) ----
  const values = new Map<string, DeviceBuffer>();
  const grads = new Map<string, DeviceBuffer>();
  for (const p of used) {
    const pre = prefetched.get(p.spec.name);
    if (pre) {
      values.set(p.spec.name, pre);
      prefetched.delete(p.spec.name);
      out.prefetchedBytes += pre.bytes;
    } else {
      const v = be.alloc(p.n);
      await copy.in(v, host.param(p.spec.name));
      values.set(p.spec.name, v);
    }
  }
  for (const stale of prefetched.values()) be.free(stale);
  prefetched.clear();
  if (train) {
    for (const p of used) {
      const g = be.alloc(p.n);
      if (gradStartsHere(p, shard)) be.fill(g, 0);
      else await copy.in(g, host.grad(p.spec.name));
      grads.set(p.spec.name, g);
    }
  }
  const params: DeviceParams = {
    value: (n) => values.get(n) ?? missing(n, shard),
    grad: (n) => grads.get(n) ?? missing(n, shard),
  };

  // ---- the shard's input ----
  const { from, to } = rt.shards[shard];
  const N = rt.B * rt.T;
  let input: DeviceBuffer;
  if (shard === 0) {
    input = be.alloc(N, 'i32');
    await copy.in(input, host.tokens());
  } else {
    input = be.alloc(rt.boundaryLength[shard]);
    await copy.in(input, host.act(shard));
  }
  // The last shard's head reads the targets during its forward.
  let targets: DeviceBuffer | null = null;
  if (shard === last) {
    targets = be.alloc(N, 'i32');
    await copy.in(targets, host.targets());
  }
  const stash = kind === 'F' || kind === 'B' ? host.stash(shard) : undefined;
  const ctx: RunContext = { be, params, B: rt.B, T: rt.T, training: kind !== 'E', keepForBackward: train || stash !== undefined, seed: rt.recipe.seed, step: task.step, saved: new Map() };
  if (targets) ctx.loss = lossTargets(targets, host.targets());
  clock.lap('other');
  // With a stash, F copies what its backward reads as the forward goes; B restores it instead of recomputing (the
  // copies run beside the compute: each is awaited once, below, and its bytes counted, not its overlapped seconds).
  const stashCopy = { in: (b: DeviceBuffer, v: Float32Array | Int32Array) => uploadPart(be, b, v, out), out: (b: DeviceBuffer, v: Float32Array | Int32Array) => downloadPart(be, b, v, out) };
  const writer = kind === 'F' && stash ? stashWriter(ctx, rt, shard, stash, stashCopy.out) : undefined;
  const offloadedB = kind === 'B' && stash !== undefined;
  // An offloaded B starts copying its boundary gradient in before its stash: copies on the cpu addon start in issue
  // order, so behind the stash's it would hold the backward until the whole stash had landed.
  let early: { dy: DeviceBuffer; copied: Promise<void> } | undefined;
  if (offloadedB) {
    const dy = be.alloc(rt.boundaryLength[shard + 1]);
    early = { dy, copied: upload(be, dy, host.dact(shard + 1), out) };
    early.copied.catch(() => undefined); // awaited below; a failure before that must not be an unhandled rejection
  }
  const restored = offloadedB ? stashIn(ctx, rt, shard, input, stash, stashCopy.in) : undefined;
  const fwd: RangeForward | undefined = restored ? undefined : forwardRange(ctx, rt.model.layers, from, to, input, writer?.afterLayer);
  // Every task but an offloaded B ran its forward; the branches below that read it are never an offloaded B.
  const ran = (): RangeForward => {
    if (!fwd) throw new Error(`task ${kind}${shard} read its forward's output, but it restored a stash instead (executor bug)`);
    return fwd;
  };
  clock.lap('forward');
  if (targets) be.free(targets);

  if (!train) {
    if (shard === last) {
      const r = await meanLoss(be, ran().output, host.targets());
      out.lossSum = r.loss * r.count;
      out.count = r.count;
      clock.lap('forward');
    } else {
      await copy.out(ran().output, host.act(shard + 1));
      if (writer) await timed(clock, 'copyOut', () => writer.finish(ran()));
    }
    be.free(ran().output);
    be.free(input);
    release(be, values, keep, false);
    clock.lap('other');
    return out;
  }

  // ---- loss (last shard) or the incoming boundary gradient ----
  let dy: DeviceBuffer;
  if (kind === 'FL') {
    out.loss = (await meanLoss(be, ran().output, host.targets())).loss;
    clock.lap('forward');
    dy = ran().output; // the head's per-row losses: its gradients were taken in its forward
  } else if (early) {
    const { copied } = early;
    dy = early.dy;
    await timed(clock, 'copyIn', () => copied);
  } else {
    be.free(ran().output);
    dy = be.alloc(rt.boundaryLength[shard + 1]);
    await copy.in(dy, host.dact(shard + 1));
  }
  clock.lap('other');
  const dx = backwardRange(ctx, rt.model.layers, from, to, restored ?? ran(), dy);
  clock.lap('backward');
  if (restored) await timed(clock, 'copyIn', () => restored.copied);
  be.free(dy);
  if (dx) {
    await copy.out(dx, host.dact(shard));
    be.free(dx);
  }
  be.free(input);

  // ---- gradients back to the host tier; squared norms of the ones that are final ----
  clock.lap('other');
  const final = used.filter((p) => gradFinalHere(p, shard));
  if (final.length > 0) {
    const norms = be.alloc(final.length);
    final.forEach((p, i) => be.sumSquares(norms, i, grads.get(p.spec.name)!, p.n));
    const sq = await be.download(norms, new Float32Array(final.length));
    be.free(norms);
    final.forEach((p, i) => (host.sumsq()[p.index] = sq[i]));
  }
  clock.lap('step');
  // ---- which parameters this task steps, and where ----
  const clipping = rt.recipe.clipNorm > 0;
  const lr = recipeLr(rt.recipe, task.step);
  let toStep: ParamPlacement[] = [];
  let gradScale = 1;
  if (shard === 0) {
    // Every gradient is final now: the step's global norm is known.
    const gradNorm = globalNorm(host.sumsq());
    out.gradNorm = gradNorm;
    out.lr = lr;
    toStep = clipping ? rt.params : final;
    gradScale = clipScale(gradNorm, rt.recipe.clipNorm);
  } else if (!clipping) {
    toStep = final;
  }
  // Parameters whose moments are on disk are stepped by the disk tier (tier/disk-state.ts).
  toStep = toStep.filter((p) => host.stepsHere(p.spec.name));
  // On the device: what this shard alone uses (its gradient starts and ends here, so the host never needs it).
  const onDevice = deviceState ? toStep.filter((p) => p.shards.length === 1 && values.has(p.spec.name)) : [];
  const mine = new Set(onDevice.map((p) => p.spec.name));
  for (const p of used) if (!mine.has(p.spec.name)) await copy.out(grads.get(p.spec.name)!, host.grad(p.spec.name));
  if (onDevice.length > 0) await stepOnDevice(be, rt, host, onDevice, values, grads, deviceState!, task.step, gradScale, out);
  clock.lap('step');
  freeMap(be, grads);
  release(be, values, keep, onDevice.length > 0);
  clock.lap('other');
  await stepParams(be, rt, host, toStep.filter((p) => !mine.has(p.spec.name)), task.step, gradScale, out);
  clock.lap('step');
  return out;
}

/**
 * The optimizer update of parameters whose values and gradients are on the device, in place, with the same kernel
 * (and so the same bits) as the host-tier path: the update is elementwise, so one call over the whole tensor equals
 * the chunked or host-side calls. Optimizer state not yet resident is copied in from the host tier first.
 */
async function stepOnDevice(be: Backend, rt: ModelRuntime, host: HostViews, list: ParamPlacement[], values: Map<string, DeviceBuffer>, grads: Map<string, DeviceBuffer>, state: DeviceOptState, step: number, gradScale: number, out: ShardOutcome): Promise<void> {
  const names = stateNames(rt.recipe.optimizer);
  const lr = recipeLr(rt.recipe, step);
  for (const p of list) {
    const name = p.spec.name;
    let s = state.get(name);
    if (!s) {
      s = [];
      for (const n of names) {
        const b = be.alloc(p.n);
        s.push(b);
        state.set(name, s); // owned by the caller from the start: a failed copy leaks nothing
        await upload(be, b, host.opt(n, name), out);
      }
    }
    applyUpdate(be, rt.recipe.optimizer, values.get(name)!, grads.get(name)!, s, p.n, { lr, t: step + 1, gradScale, decay: p.spec.decay });
  }
}

/**
 * Chunked optimizer update from host-tier copies: the device holds one chunk of the parameter, its gradient and each
 * optimizer state at a time, whatever the model size. The chunk buffers are allocated once per call and reused (a
 * fresh allocation per chunk pays the page faults of new memory every time), and each chunk's copies are issued
 * together, not one after another.
 */
async function stepParams(be: Backend, rt: ModelRuntime, host: HostViews, list: ParamPlacement[], step: number, gradScale: number, out: ShardOutcome): Promise<void> {
  if (list.length === 0) return;
  const names = stateNames(rt.recipe.optimizer);
  const lr = recipeLr(rt.recipe, step);
  // A device whose memory is the host's own (cpu, js) steps the host tier in place: same kernel, no copies.
  if (be.adamwHost && be.sgdHost) {
    for (const p of list) {
      const name = p.spec.name;
      applyUpdateHost(be, rt.recipe.optimizer, host.param(name), host.grad(name), names.map((s) => host.opt(s, name)), p.n, { lr, t: step + 1, gradScale, decay: p.spec.decay });
    }
    return;
  }
  const size = Math.min(UPDATE_CHUNK, Math.max(...list.map((p) => p.n)));
  const dp = be.alloc(size), dg = be.alloc(size);
  const ds = names.map(() => be.alloc(size));
  try {
    for (const p of list) {
      const name = p.spec.name;
      const hp = host.param(name), hg = host.grad(name);
      const hs = names.map((s) => host.opt(s, name));
      for (let a = 0; a < p.n; a += UPDATE_CHUNK) {
        const b = Math.min(p.n, a + UPDATE_CHUNK), n = b - a;
        await Promise.all([
          uploadPart(be, dp, hp.subarray(a, b), out),
          uploadPart(be, dg, hg.subarray(a, b), out),
          ...ds.map((d, i) => uploadPart(be, d, hs[i].subarray(a, b), out)),
        ]);
        applyUpdate(be, rt.recipe.optimizer, dp, dg, ds, n, { lr, t: step + 1, gradScale, decay: p.spec.decay });
        await Promise.all([downloadPart(be, dp, hp.subarray(a, b), out), ...ds.map((d, i) => downloadPart(be, d, hs[i].subarray(a, b), out))]);
      }
    }
  } finally {
    be.free(dp);
    be.free(dg);
    for (const d of ds) be.free(d);
  }
}

/** Copies `src` into the first src.length elements of `buf`. */
async function uploadPart(be: Backend, buf: DeviceBuffer, src: Float32Array | Int32Array, out: ShardOutcome): Promise<void> {
  await be.upload(buf, src);
  out.bytesIn += src.byteLength;
}

/** Fills `dst` from the first dst.length elements of `buf`. */
async function downloadPart(be: Backend, buf: DeviceBuffer, dst: Float32Array | Int32Array, out: ShardOutcome): Promise<void> {
  await be.download(buf, dst, 0, dst.length);
  out.bytesOut += dst.byteLength;
}

async function upload(be: Backend, buf: DeviceBuffer, src: Float32Array | Int32Array, out: ShardOutcome): Promise<void> {
  const t0 = performance.now();
  await be.upload(buf, src);
  out.copySeconds += (performance.now() - t0) / 1000;
  out.bytesIn += buf.bytes;
}

async function download(be: Backend, buf: DeviceBuffer, dst: Float32Array | Int32Array, out: ShardOutcome): Promise<void> {
  const t0 = performance.now();
  await be.download(buf, dst);
  out.copySeconds += (performance.now() - t0) / 1000;
  out.bytesOut += buf.bytes;
}

/** Await a copy, booking the time before it to 'other' and the copy itself to `phase`. */
async function timed(clock: ReturnType<typeof phaseClock>, phase: 'copyIn' | 'copyOut', copy: () => Promise<void>): Promise<void> {
  clock.lap('other');
  await copy();
  clock.lap(phase);
}

function freeMap(be: Backend, m: Map<string, DeviceBuffer>): void {
  for (const b of m.values()) be.free(b);
  m.clear();
}

function release(be: Backend, values: Map<string, DeviceBuffer>, keep: KeepValues | undefined, stepped: boolean): void {
  if (keep?.(values, stepped)) return;
  // Values stepped on the device are the only current copy: dropping them would lose the step.
  if (stepped) throw new Error('values stepped on the device were not kept (device-state bookkeeping bug)');
  freeMap(be, values);
}

function missing(name: string, shard: number): never {
  throw new Error(`shard ${shard} uses parameter '${name}' but it was not promoted (partition bookkeeping bug)`);
}
