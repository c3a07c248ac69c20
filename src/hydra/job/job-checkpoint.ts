/**
 * Checkpoints of a Hydra job: one file per model (`<dir>/<safe model name>.ckpt`, the checkpoint format of
 * src/io/checkpoint-file.ts: checksummed, written atomically), taken only at a minibatch boundary — when the model
 * has no task in flight and every parameter has been stepped — so that with counter-based randomness and pure
 * batch sources the step index is the whole training position. A job resumed from them continues bitwise as the
 * uninterrupted job would.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchSpec } from '../../nn/family.js';
import type { HostTensor } from '../../nn/host-tensor.js';
import type { TrainRecipe } from '../../optim/recipe.js';
import { stateNames } from '../../optim/optimizer.js';
import { checkpointArch, loadModelCheckpoint, openModelCheckpoint, saveModelCheckpoint, type LoadedModelCheckpoint, type ModelProgress } from '../../io/model-checkpoint.js';
import { CheckpointError } from '../../io/checkpoint-file.js';
import { canonicalJson } from '../../data/token-cache.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import type { HostViews } from '../tier/host-state.js';
import type { ModelDiskState } from '../tier/disk-state.js';
import { streamModelState, writeModelState } from '../tier/model-state-io.js';
import { tensorElements, type TensorLike } from '../../io/streamed-tensor.js';
import type { HydraEvent } from '../api.js';

export class CheckpointMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMismatchError';
  }
}

/**
 * A model's training state: copied out of the host tier (synchronously: nothing can change it half-way), viewed in
 * place, or — state on disk — streamed (`T` = TensorLike: read piece by piece while the checkpoint is written).
 */
export interface ModelSnapshot<T extends TensorLike = HostTensor> {
  params: Map<string, T>;
  optState: Map<string, T>;
  step: number;
  progress: ModelProgress;
}

/**
 * `copy`: copy the tensors (the model trains on while the checkpoint is written); without it the snapshot views the
 * host tier directly, for a model that will not change again (stopped or finished) — no second copy of its state.
 * A model with state on disk is streamed instead, whatever `copy` says: its next task waits until the file is
 * written (ModelEndings.checkpoint), so no copy of a model larger than RAM is ever made.
 */
export function snapshotModel(rt: ModelRuntime, views: HostViews, disk: ModelDiskState | undefined, step: number, progress: ModelProgress, copy: boolean): ModelSnapshot<TensorLike> {
  const progressCopy = { ...progress, losses: [...progress.losses], evals: progress.evals.map((e) => ({ ...e })) };
  if (disk) {
    const s = streamModelState(rt, disk);
    return { params: s.params, optState: s.opt, step, progress: progressCopy };
  }
  const take = (a: Float32Array) => (copy ? Float32Array.from(a) : a);
  const params = new Map<string, HostTensor>(), optState = new Map<string, HostTensor>();
  for (const p of rt.params) {
    const shape = [...p.spec.shape];
    params.set(p.spec.name, { shape, data: take(views.param(p.spec.name)) });
    for (const s of stateNames(rt.recipe.optimizer)) optState.set(`${s}.${p.spec.name}`, { shape, data: take(views.opt(s, p.spec.name)) });
  }
  return { params, optState, step, progress: progressCopy };
}

export async function writeModelSnapshot(path: string, arch: ArchSpec, recipe: TrainRecipe, stepsPerEpoch: number, s: ModelSnapshot<TensorLike>): Promise<void> {
  await keepPrevious(path);
  await saveModelCheckpoint(path, arch, s.params, s.optState, {
    recipe,
    step: s.step,
    data: { epoch: Math.floor(s.step / stepsPerEpoch), step: s.step % stepsPerEpoch },
    rng: { seed: recipe.seed },
    progress: s.progress,
  });
}

export function checkpointPath(dir: string, safeName: string): string {
  return join(dir, `${safeName}.ckpt`);
}

/** The checkpoint before the current one: what a resume falls back to when the current one is damaged. */
export function previousCheckpointPath(path: string): string {
  return `${path}.last`;
}

/**
 * Before a checkpoint is replaced, it is renamed to `<path>.last`; the new one is then written atomically to
 * `<path>`. The two never share a file, so damage to the newest leaves the one before it intact; a crash between the
 * rename and the write leaves only `<path>.last`, which a resume uses.
 */
async function keepPrevious(path: string): Promise<void> {
  try {
    await rename(path, previousCheckpointPath(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // the first checkpoint: nothing before it
  }
}

/**
 * `loadModelSnapshot`, falling back to the previous checkpoint when the current file is damaged (a checksum or
 * format error: a torn write, a bad disk) or missing (a crash while replacing it) — the job loses the steps between
 * the two instead of the whole model.
 * `onFallback` says which was used and why.
 */
export async function loadModelSnapshotOrPrevious(
  path: string, model: string, arch: ArchSpec, recipe: TrainRecipe, B: number, T: number, stepsPerEpoch: number,
  onFallback: (message: string) => void, streamed = false,
): Promise<ModelSnapshot<TensorLike> | null> {
  const last = previousCheckpointPath(path);
  let why: string;
  try {
    const current = await loadModelSnapshot(path, model, arch, recipe, B, T, stepsPerEpoch, streamed);
    if (current || !existsSync(last)) return current;
    why = `checkpoint ${path} is missing (the job stopped while replacing it)`;
  } catch (e) {
    if (!(e instanceof CheckpointError && e.problem !== 'bad-input') || !existsSync(last)) throw e;
    why = e.message;
  }
  const previous = await loadModelSnapshot(last, model, arch, recipe, B, T, stepsPerEpoch, streamed);
  onFallback(`${model}: ${why}; resuming from the previous checkpoint ${last} (step ${previous!.step}) instead`);
  return previous;
}

/**
 * The checkpoint of a model, if its file exists, checked against the job: it must have been written for the same
 * model shape, training recipe and batch shape (otherwise continuing from it would not be this job). `streamed`: its
 * checksums verified, its tensors left in the file and read in pieces when restored (a model with state on disk).
 */
export async function loadModelSnapshot(
  path: string, model: string, arch: ArchSpec, recipe: TrainRecipe, B: number, T: number, stepsPerEpoch: number, streamed = false,
): Promise<ModelSnapshot<TensorLike> | null> {
  if (!existsSync(path)) return null;
  const ck: LoadedModelCheckpoint<TensorLike> = streamed ? await openModelCheckpoint(path) : await loadModelCheckpoint(path);
  const progress = ck.meta.progress;
  if (!progress) throw new CheckpointMismatchError(`checkpoint ${path} (model '${model}') was not written by a Hydra job: it has no progress record`);
  const differ = (field: string, was: unknown, now: unknown) =>
    new CheckpointMismatchError(
      `checkpoint ${path} does not belong to this job's model '${model}': ${field} was ${canonicalJson(was)} there and is ${canonicalJson(now)} now. ` +
        `Resume with the configuration that wrote it, or remove the file (or choose another output directory) to start this model afresh.`,
    );
  const was = checkpointArch(ck.meta);
  if (was.family !== arch.family) throw differ('model.family', was.family, arch.family);
  const wasConfig = was.config as Record<string, unknown>, config = arch.config as Record<string, unknown>;
  for (const k of Object.keys({ ...config, ...wasConfig })) {
    if (canonicalJson(wasConfig[k]) !== canonicalJson(config[k])) throw differ(`model.${k}`, wasConfig[k], config[k]);
  }
  for (const k of Object.keys({ ...recipe, ...ck.meta.recipe }) as (keyof TrainRecipe)[]) {
    if (canonicalJson(ck.meta.recipe[k]) !== canonicalJson(recipe[k])) throw differ(k === 'totalSteps' ? 'the number of steps' : k, ck.meta.recipe[k], recipe[k]);
  }
  if (progress.B !== B || progress.T !== T) throw differ('the batch shape (B×T)', `${progress.B}×${progress.T}`, `${B}×${T}`);
  if (progress.name !== model) throw differ('the model name', progress.name, model);
  if (progress.stepsPerEpoch !== stepsPerEpoch) throw differ("the training data's batches per epoch", progress.stepsPerEpoch, stepsPerEpoch);
  return { params: ck.params, optState: ck.optState, step: ck.meta.step, progress };
}

/** Put a snapshot back into the tiers (a streamed one piece by piece). */
export async function restoreModel(rt: ModelRuntime, views: HostViews, disk: ModelDiskState | undefined, s: ModelSnapshot<TensorLike>, path: string): Promise<void> {
  const get = (name: string, n: number, t: TensorLike | undefined) => {
    if (!t || tensorElements(t) !== n) throw new CheckpointMismatchError(`checkpoint ${path}: tensor '${name}' is ${t ? `${tensorElements(t)} elements` : 'missing'}, the model needs ${n}`);
    return t;
  };
  for (const p of rt.params) {
    get(p.spec.name, p.n, s.params.get(p.spec.name));
    for (const st of stateNames(rt.recipe.optimizer)) get(`${st}.${p.spec.name}`, p.n, s.optState.get(`${st}.${p.spec.name}`));
  }
  await writeModelState(rt, views, disk, (n) => s.params.get(n)!, (st, n) => s.optState.get(`${st}.${n}`)!);
}

/**
 * Writes checkpoints in the background: one model's writes in order (each replaces the file, so a slow older write
 * must not land after a newer one), different models' side by side. Remembers, per model, whether the last write
 * failed, so a stopped model's result can say whether it can be resumed.
 */
export class CheckpointWriter {
  private readonly pending: Promise<void>[] = [];
  private readonly last = new Map<string, Promise<void>>();
  private readonly errors = new Map<string, string>();

  constructor(
    private readonly emit: (e: HydraEvent) => void,
    private readonly now: () => number,
  ) {}

  /** Resolves once the file is written (or its failure recorded). */
  write(model: string, path: string, snapshot: ModelSnapshot<TensorLike>, arch: ArchSpec, recipe: TrainRecipe, written: (c: { path: string; step: number }) => void): Promise<void> {
    const write = Promise.resolve(this.last.get(model)).then(() =>
      writeModelSnapshot(path, arch, recipe, snapshot.progress.stepsPerEpoch, snapshot).then(() => {
        this.errors.delete(model);
        written({ path, step: snapshot.step });
        this.emit({ type: 'checkpoint', t: this.now(), model, step: snapshot.step, path, finished: snapshot.progress.finished });
      }),
    ).catch((e: unknown) => {
      const why = `writing checkpoint ${path} failed: ${e instanceof Error ? e.message : String(e)}`;
      this.errors.set(model, why);
      this.emit({ type: 'log', t: this.now(), message: `${model}: ${why}` });
    });
    this.last.set(model, write);
    this.pending.push(write);
    return write;
  }

  /** Wait for every write issued so far. */
  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }

  /** Why the model's last checkpoint write failed, if it did. */
  error(model: string): string | undefined {
    return this.errors.get(model);
  }
}
