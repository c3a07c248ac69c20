/**
 * Named workloads for `hydra simulate` and the benches.
 *
 * paper-grid: the Hydra paper's 12-configuration grid — batch {16, 8} × lr {3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5} —
 *   fine-tuning GPT-2 XL (1.56 B parameters: it does not fit a 16 GB GPU with its gradients and optimizer state,
 *   which is the point of Hydra) on WikiText-2 with 512-token context, 2 epochs, on 16 GB GPUs. Shards, bytes and
 *   seconds are the real model's plan on a 16 GiB device (model-profile.ts: batch 16 → 6 shards, batch 8 → 4;
 *   ~0.45 s forward per shard at 10 TFLOP/s). The learning rate changes no cost, so models of one batch size are
 *   identical to the scheduler. WikiText-2 with the GPT-2 tokenizer: ~2.4 M training tokens (4,700 sequences of 512:
 *   293 steps per epoch at batch 16, 587 at batch 8) and ~250 k validation tokens (30 / 60 eval batches).
 * hetero: mixed architectures and sizes (gpt2-medium … a 6 B GPT shape, TinyLlama-1.1B), batch sizes and step
 *   counts, on devices of different speeds and memories.
 * large: 1,000 models of mixed sizes on 64 devices (short runs: this is a scheduler-scale test).
 * grid48: the scaling study's 48-model grid (the paper grid × 4 seeds, 24 steps each: scheduling behaviour, not
 *   a training run), default 8 devices.
 */
import { hashUniform } from './engine.js';
import type { ArchSpec } from '../nn/family.js';
import { modelShards } from './model-profile.js';
import type { SimDevice, SimModel, Workload } from './types.js';

const GiB = 2 ** 30;
/** PCIe 3.0 x16, effective. */
export const DEFAULT_BANDWIDTH = 12e9;
export const DEFAULT_DEVICE_MEMORY = 16 * GiB;

export const PAPER_LRS = [3e-4, 1e-4, 5e-5, 6e-5, 1e-5, 2e-5];
export const PAPER_BATCHES = [16, 8];
const WIKITEXT2_TRAIN_SEQS = 4700;
const WIKITEXT2_VALID_SEQS = 480;

/** A family's named shape, e.g. arch('gpt2', 'gpt2-xl'), arch('llama', 'tinyllama-1.1b'). */
export const arch = (family: string, preset: string): ArchSpec => ({ family, config: { preset } });

export interface GridModelOptions {
  /** The model (default GPT-2 XL). */
  arch?: ArchSpec;
  B: number;
  T?: number;
  epochs?: number;
  /** Fixed step count instead of epochs over WikiText-2. */
  steps?: number;
  evalSeqs?: number;
  deviceMemory?: number;
}

/** A model of the presets: the real model's plan on the device (model-profile.ts), trained on WikiText-2. */
export async function presetModel(id: string, o: GridModelOptions): Promise<SimModel> {
  const shards = await modelShards({ arch: o.arch ?? arch('gpt2', 'gpt2-xl'), B: o.B, T: o.T ?? 512, deviceMemory: o.deviceMemory ?? DEFAULT_DEVICE_MEMORY });
  const stepsPerEpoch = o.steps ?? Math.floor(WIKITEXT2_TRAIN_SEQS / o.B);
  const evalBatches = Math.floor((o.evalSeqs ?? WIKITEXT2_VALID_SEQS) / o.B);
  return { id, shards, minibatches: stepsPerEpoch * (o.steps ? 1 : (o.epochs ?? 1)), stepsPerEpoch, evalBatches };
}

export function devicesOf(speeds: number[], memoryBytes = DEFAULT_DEVICE_MEMORY): SimDevice[] {
  return speeds.map((speed) => ({ speed, memoryBytes }));
}

export async function paperGrid(devices = 8, steps?: number, seeds = 1): Promise<Workload> {
  const models: SimModel[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    for (const B of PAPER_BATCHES) {
      for (const lr of PAPER_LRS) {
        const id = `gpt2xl-b${B}-lr${lr}${seeds > 1 ? `-s${seed}` : ''}`;
        models.push(await presetModel(id, steps ? { B, steps, evalSeqs: 0 } : { B, epochs: 2 }));
      }
    }
  }
  return {
    name: seeds > 1 ? `grid${models.length}` : 'paper-grid',
    description: `${models.length} GPT-2 XL fine-tuning configurations (batch {16, 8} × 6 learning rates${seeds > 1 ? ` × ${seeds} seeds` : ''}) on ${devices} × 16 GiB`,
    models,
    devices: devicesOf(new Array<number>(devices).fill(1)),
    bandwidth: DEFAULT_BANDWIDTH,
  };
}

export async function hetero(): Promise<Workload> {
  const models: SimModel[] = [];
  const add = async (n: number, family: string, name: string, B: number, steps: number) => {
    for (let i = 0; i < n; i++) models.push(await presetModel(`${name}-b${B}-${i}`, { arch: arch(family, name), B, steps, evalSeqs: 96 }));
  };
  await add(4, 'gpt2', 'gpt2-medium', 8, 400);
  await add(3, 'gpt2', 'gpt2-large', 8, 300);
  await add(3, 'gpt2', 'gpt2-large', 16, 100);
  await add(4, 'gpt2', 'gpt2-xl', 16, 150);
  await add(2, 'gpt2', 'gpt-6b', 4, 60);
  await add(2, 'llama', 'tinyllama-1.1b', 8, 200);
  return {
    name: 'hetero',
    description: '18 models (GPT-2 medium to a 6 B shape and TinyLlama-1.1B, batch 4-16, 60-400 steps) on 6 devices of speeds 1, 1, 1, 1.5, 2, 2',
    models,
    devices: [1, 1, 1, 1.5, 2, 2].map((speed, i) => ({ speed, memoryBytes: (i < 3 ? 16 : i < 4 ? 24 : 40) * GiB })),
    bandwidth: DEFAULT_BANDWIDTH,
  };
}

export async function large(): Promise<Workload> {
  const shapes = ['gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
  const batches = [4, 8, 16];
  const profiles = new Map<string, SimModel>();
  const models: SimModel[] = [];
  for (let i = 0; i < 1000; i++) {
    const shape = shapes[Math.floor(hashUniform(7, i, 0) * shapes.length)];
    const B = batches[Math.floor(hashUniform(7, i, 1) * batches.length)];
    const steps = 8 + Math.floor(hashUniform(7, i, 2) * 17);
    const key = `${shape}/${B}`;
    if (!profiles.has(key)) profiles.set(key, await presetModel(key, { arch: arch('gpt2', shape), B, steps: 1, evalSeqs: 0 }));
    const p = profiles.get(key)!;
    models.push({ ...p, id: `m${String(i).padStart(4, '0')}-${shape}-b${B}`, minibatches: steps, stepsPerEpoch: steps });
  }
  return {
    name: 'large',
    description: '1,000 models (gpt2 to gpt2-xl, batch 4-16, 8-24 steps) on 64 × 16 GiB devices',
    models,
    devices: devicesOf(new Array<number>(64).fill(1)),
    bandwidth: DEFAULT_BANDWIDTH,
  };
}

/** Each builds its workload afresh (plans are cached per process: the first call of a preset dry-runs its shapes). */
export const PRESETS: Record<string, () => Promise<Workload>> = {
  'paper-grid': () => paperGrid(8),
  hetero,
  large,
  grid48: () => paperGrid(8, 24, 4),
};
