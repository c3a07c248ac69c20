/**
 * Checkpoints of a model in training: parameters, optimizer state (`<state>.<param>`), the number of steps taken
 * (which, with counter-based randomness, is also the RNG position: dropout keys are (seed, step, layer)) and the data
 * position. Resuming from one continues exactly as the uninterrupted run would.
 */
import type { Backend } from '../backend/backend.js';
import type { ArchSpec } from '../nn/family.js';
import { buildArch, familyNames } from '../nn/families.js';
import type { HostTensor } from '../nn/host-tensor.js';
import { LocalTrainer } from '../optim/local-trainer.js';
import type { TrainRecipe } from '../optim/recipe.js';
import type { StopReason } from '../hydra/scheduler/early-stopping/types.js';
import { CheckpointError, openCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint-file.js';
import type { StreamedTensor, TensorLike } from './streamed-tensor.js';

export interface ModelCheckpointMeta {
  kind: 'hydra-model';
  /** The model's family (absent in checkpoints written before families existed: GPT-2), config and module. */
  family?: string;
  config: object;
  module?: string;
  recipe: TrainRecipe;
  /** Optimizer steps taken; the next step's index. */
  step: number;
  /** Where the data loader resumes. */
  data: { epoch: number; step: number };
  /** The counter-based RNG needs only its seed: every draw is keyed by (seed, purpose, step, layer, index). */
  rng: { seed: number };
  /** A Hydra job's record of the model so far (checkpoints written by train()). */
  progress?: ModelProgress;
}

export interface ModelProgress {
  /** The model's name in the job, and its training data's batches per epoch (a different data file differs here). */
  name: string;
  stepsPerEpoch: number;
  /** Batch shape the model trains with. */
  B: number;
  T: number;
  /** Training loss of every step taken. */
  losses: number[];
  evals: { epoch: number; step?: number; loss: number; perplexity: number }[];
  /** All its steps and evaluations are done: a resumed job reports it without training it. */
  finished: boolean;
  /**
   * Why early stopping ended it, if it did (with `finished`): a resumed job reports it as stopped early without
   * having to take that decision again (its peers may not be where they were then: one that diverged restarts).
   */
  stoppedEarly?: StopReason;
}

const PARAM = 'param.';

type ArchFields = 'family' | 'config' | 'module';

/** Tensors may be streamed (read in pieces as the file is written: state that lives on disk). */
export async function saveModelCheckpoint(path: string, arch: ArchSpec, params: Map<string, TensorLike>, optState: Map<string, TensorLike>, meta: Omit<ModelCheckpointMeta, 'kind' | ArchFields>): Promise<void> {
  const tensors = new Map<string, TensorLike>();
  for (const [n, t] of params) tensors.set(PARAM + n, t);
  for (const [n, t] of optState) tensors.set(`opt.${n}`, t);
  await writeCheckpoint(path, { tensors, meta: { kind: 'hydra-model', ...arch, ...meta } satisfies ModelCheckpointMeta });
}

/** The model a checkpoint was written for. */
export function checkpointArch(meta: ModelCheckpointMeta): ArchSpec {
  return { family: meta.family ?? 'gpt2', config: meta.config, ...(meta.module ? { module: meta.module } : {}) };
}

export interface LoadedModelCheckpoint<T extends TensorLike = HostTensor> {
  meta: ModelCheckpointMeta;
  params: Map<string, T>;
  optState: Map<string, T>;
}

export async function loadModelCheckpoint(path: string): Promise<LoadedModelCheckpoint> {
  return splitModelCheckpoint(path, await readCheckpoint<ModelCheckpointMeta>(path));
}

/** The checkpoint verified but not read: its tensors are read in pieces on demand (openCheckpoint). */
export async function openModelCheckpoint(path: string): Promise<LoadedModelCheckpoint<StreamedTensor>> {
  return splitModelCheckpoint(path, await openCheckpoint<ModelCheckpointMeta>(path));
}

function splitModelCheckpoint<T extends TensorLike>(path: string, { tensors, meta }: { tensors: Map<string, T>; meta: ModelCheckpointMeta }): LoadedModelCheckpoint<T> {
  if (!meta || meta.kind !== 'hydra-model') throw new CheckpointError(path, 'not-a-checkpoint', `meta.kind is ${JSON.stringify(meta?.kind)}, expected "hydra-model"`);
  const params = new Map<string, T>(), optState = new Map<string, T>();
  for (const [n, t] of tensors) {
    if (n.startsWith(PARAM)) params.set(n.slice(PARAM.length), t);
    else if (n.startsWith('opt.')) optState.set(n.slice(4), t);
  }
  return { meta, params, optState };
}

/** Save a LocalTrainer's whole training state. */
export async function checkpointTrainer(path: string, t: LocalTrainer, arch: ArchSpec, data: { epoch: number; step: number }): Promise<void> {
  await saveModelCheckpoint(path, arch, await t.exportParams(), await t.exportOptimizerState(), { recipe: t.recipe, step: t.step, data, rng: { seed: t.recipe.seed } });
}

/** A LocalTrainer in exactly the state the checkpoint recorded. */
export async function resumeTrainer(path: string, be: Backend): Promise<{ trainer: LocalTrainer; meta: ModelCheckpointMeta }> {
  const ck = await loadModelCheckpoint(path);
  const arch = checkpointArch(ck.meta);
  // Never import code a checkpoint file names (a checkpoint from elsewhere would run it): a family that is not
  // built in must already be registered by the caller.
  if (!familyNames().includes(arch.family)) {
    throw new RangeError(`${path}: model family '${arch.family}' is not registered in this process${arch.module ? ` (the checkpoint says ${arch.module} registers it)` : ''}; import the module that calls registerFamily() first — hydra-dl does not import code named by a checkpoint`);
  }
  const trainer = await LocalTrainer.create(be, buildArch(arch), ck.params, ck.meta.recipe);
  await trainer.importOptimizerState(ck.optState, ck.meta.step);
  return { trainer, meta: ck.meta };
}
