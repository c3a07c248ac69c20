/**
 * hydra-dl's public API (the package entry). Train many models at once with `train()`; build, load and save GPT-2s;
 * run a single model directly with `LocalTrainer`; simulate clusters with `simulate()`.
 */
// ---- Hydra: many models at once, sharded and spilled ----
export { train } from './hydra/job/train.js';
export { startTraining, type TrainingJob } from './hydra/job/job-control.js';
export {
  createEarlyStopper, validateEarlyStopping, describeStop, EarlyStopper,
  type EarlyStoppingConfig, type AshaConfig, type MedianConfig, type StopReason, type RungDecision,
} from './hydra/scheduler/early-stopping/index.js';
export type {
  BatchSource, TrainTask, TrainOptions, PolicyName, HydraEvent, TaskKind, ModelStatus, ModelResult, JobResult, PartitionPlan, ShardPlan,
} from './hydra/api.js';
export { LayerTooLargeError } from './hydra/plan/partitioner.js';
export { parseBytes, formatBytes } from './hydra/units.js';
export { formatPlan } from './hydra/plan/plan-cache.js';

// ---- backends ----
export { createBackend, createBackendOrFallback, BackendUnavailableError, type BackendKind, type BackendOptions } from './backend/index.js';
export type { Backend, DeviceBuffer } from './backend/backend.js';

// ---- models ----
export { gpt2Config, gpt2Arch, gpt2Family, buildGpt2, describeGpt2, validateGpt2Config, GPT2_PRESETS, type Gpt2Config } from './nn/gpt2.js';
export { llamaConfig, llamaArch, llamaFamily, buildLlama, type LlamaConfig } from './nn/llama.js';
export { resolveLlamaConfig, describeLlama, LLAMA_PRESETS } from './nn/llama-config.js';
export type { ArchSpec, ModelFamily } from './nn/family.js';
export { registerFamily, getFamily, familyNames, loadFamily, resolveArch, buildArch, describeArch } from './nn/families.js';
export { paramCount, collectParams, type Model } from './nn/model.js';
export type { Layer, ParamSpec, RunContext, DeviceParams, InitRule } from './nn/layer.js';
export { gradCheckLayer, type GradCheckOptions, type GradCheckResult } from './nn/gradcheck.js';
export { initModel, initParamsInto } from './nn/init.js';
export { evaluate, type EvalBatch, type EvalResult } from './nn/evaluate.js';
export type { HostTensor } from './nn/host-tensor.js';

// ---- optimisation (one model on one backend) ----
export { ADAMW_DEFAULTS, SGD_DEFAULTS, type OptimizerConfig, type AdamWConfig, type SgdConfig } from './optim/optimizer.js';
export { CONSTANT_LR, lrAt, type LrSchedule } from './optim/schedule.js';
export { LocalTrainer, type StepResult } from './optim/local-trainer.js';

// ---- data ----
export { gpt2Tokenizer, GPT2_VOCAB_SIZE, GPT2_EOT, type Tokenizer } from './data/tokenizer.js';
export { loadTextDataset, loadTrainEval, BlockDataset, type TextFileOptions } from './data/text-dataset.js';
export { Loader, type LoaderOptions } from './data/loader.js';

// ---- model I/O ----
export { loadHfGpt2, saveHfGpt2, HfGpt2Error } from './io/hf-gpt2.js';
export { loadHfLlama, saveHfLlama, HfLlamaError } from './io/hf-llama.js';
export { readSafetensors, writeSafetensors, SafetensorsError } from './io/safetensors.js';
export { saveModelCheckpoint, loadModelCheckpoint, checkpointTrainer, resumeTrainer } from './io/model-checkpoint.js';

// ---- simulation ----
export { simulate } from './sim/engine.js';
export type { Workload, SimModel, SimResult } from './sim/types.js';
