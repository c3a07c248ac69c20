/**
 * Checkpoints of a model in training: parameters, optimizer state (`<state>.<param>`), the number of steps taken
 * (which, with counter-based randomness, is also the RNG position: dropout keys are (seed, step, layer)) and the data
 * position. Resuming from one continues exactly as the uninterrupted run would.
 */
import type { Backend } from '../backend/backend.js';
import { buildGpt2 } from '../nn/gpt2.js';
import type { Gpt2Config } from '../nn/gpt2-config.js';
import type { HostTensor } from '../nn/host-tensor.js';
import { LocalTrainer } from '../optim/local-trainer.js';
import type { TrainRecipe } from '../optim/recipe.js';
import { CheckpointError, readCheckpoint, writeCheckpoint } from './checkpoint-file.js';

export interface ModelCheckpointMeta {
  kind: 'hydra-model';
  config: Gpt2Config;
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
  evals: { epoch: number; loss: number; perplexity: number }[];
  /** All its steps and evaluations are done: a resumed job reports it without training it. */
  finished: boolean;
}

const PARAM = 'param.';

export async function saveModelCheckpoint(path: string, config: Gpt2Config, params: Map<string, HostTensor>, optState: Map<string, HostTensor>, meta: Omit<ModelCheckpointMeta, 'kind' | 'config'>): Promise<void> {
  const tensors = new Map<string, HostTensor>();
  for (const [n, t] of params) tensors.set(PARAM + n, t);
  for (const [n, t] of optState) tensors.set(`opt.${n}`, t);
  await writeCheckpoint(path, { tensors, meta: { kind: 'hydra-model', config, ...meta } satisfies ModelCheckpointMeta });
}

export interface LoadedModelCheckpoint {
  meta: ModelCheckpointMeta;
  params: Map<string, HostTensor>;
  optState: Map<string, HostTensor>;
}

export async function loadModelCheckpoint(path: string): Promise<LoadedModelCheckpoint> {
  const { tensors, meta } = await readCheckpoint<ModelCheckpointMeta>(path);
  if (!meta || meta.kind !== 'hydra-model') throw new CheckpointError(path, 'not-a-checkpoint', `meta.kind is ${JSON.stringify(meta?.kind)}, expected "hydra-model"`);
  const params = new Map<string, HostTensor>(), optState = new Map<string, HostTensor>();
  for (const [n, t] of tensors) {
    if (n.startsWith(PARAM)) params.set(n.slice(PARAM.length), t);
    else if (n.startsWith('opt.')) optState.set(n.slice(4), t);
  }
  return { meta, params, optState };
}

/** Save a LocalTrainer's whole training state. */
export async function checkpointTrainer(path: string, t: LocalTrainer, config: Gpt2Config, data: { epoch: number; step: number }): Promise<void> {
  await saveModelCheckpoint(path, config, await t.exportParams(), await t.exportOptimizerState(), { recipe: t.recipe, step: t.step, data, rng: { seed: t.recipe.seed } });
}

/** A LocalTrainer in exactly the state the checkpoint recorded. */
export async function resumeTrainer(path: string, be: Backend): Promise<{ trainer: LocalTrainer; meta: ModelCheckpointMeta }> {
  const ck = await loadModelCheckpoint(path);
  const trainer = await LocalTrainer.create(be, buildGpt2(ck.meta.config), ck.params, ck.meta.recipe);
  await trainer.importOptimizerState(ck.optState, ck.meta.step);
  return { trainer, meta: ck.meta };
}
