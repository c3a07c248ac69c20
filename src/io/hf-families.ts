/**
 * Writing a trained model's weights in its family's Hugging Face layout (config.json + model.safetensors): one writer
 * per family. A family without one (e.g. a user's own) gets model.safetensors under its own parameter names and
 * `arch.json` (the ArchSpec it was built from), which is enough to rebuild and reload it.
 */
import { join } from 'node:path';
import type { ArchSpec } from '../nn/family.js';
import type { Gpt2Config } from '../nn/gpt2-config.js';
import type { TensorLike } from './streamed-tensor.js';
import { writeFileAtomic } from '../data/atomic-write.js';
import { saveHfGpt2 } from './hf-gpt2.js';
import { saveHfLlama } from './hf-llama.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { writeSafetensors } from './safetensors.js';

type Writer = (dir: string, config: object, tensors: Map<string, TensorLike>) => Promise<void>;

/** Family name → its Hugging Face writer. A new family with an HF layout adds one line. */
const HF_WRITERS: Record<string, Writer> = {
  gpt2: (dir, config, tensors) => saveHfGpt2(dir, config as Gpt2Config, tensors),
  llama: (dir, config, tensors) => saveHfLlama(dir, config as LlamaConfig, tensors),
};

export async function saveModelWeights(dir: string, arch: ArchSpec, tensors: Map<string, TensorLike>): Promise<void> {
  const writer = HF_WRITERS[arch.family];
  if (writer) return writer(dir, arch.config, tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, 'arch.json'), [Buffer.from(`${JSON.stringify(arch, null, 2)}\n`, 'utf8')]);
}
