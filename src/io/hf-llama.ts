/**
 * Hugging Face LlamaForCausalLM weights ↔ our parameters.
 *
 * Our parameter names are HF's without the `model.` prefix (`embed_tokens.weight`, `layers.{i}.self_attn.q_proj.weight`,
 * …, `norm.weight`) and `lm_head.weight`, in the same (out, in) layouts. Loading reads `model.safetensors` or a
 * sharded index (F32, F16 or BF16, widened to float32), skips the `rotary_emb.inv_freq` buffers older checkpoints
 * carry, and accepts a stored head on a tied model only when it is the embedding. Saving writes what
 * save_pretrained writes: prefixed names, `lm_head.weight` only when untied, metadata {format: 'pt'}, sharded with
 * an index above `maxShardBytes`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaConfig } from '../nn/llama-config.js';
import { buildLlama } from '../nn/llama.js';
import { writeFileAtomic } from '../data/atomic-write.js';
import { HfLlamaError, llamaConfigFromHf, llamaConfigToHf } from './hf-llama-config.js';
import { hfWeightFiles, writeHfWeights } from './hf-weight-files.js';
import type { HostTensor } from './host-tensor.js';
import { sameStreamed, type StreamedTensor, type TensorLike } from './streamed-tensor.js';
import type { WeightSource } from '../nn/host-tensor.js';
import { readSafetensors, streamSafetensors, type TensorEntry } from './safetensors.js';

export { HfLlamaError } from './hf-llama-config.js';

const PREFIX = 'model.';
const HEAD = 'lm_head.weight';

/** Every parameter of a Llama config with its shape, in model order. */
export function expectedLlamaShapes(config: LlamaConfig): Map<string, number[]> {
  return new Map(buildLlama(config).params.map((p) => [p.name, p.shape]));
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function listed(names: string[], limit = 12): string {
  return names.length <= limit ? names.join(', ') : `${names.slice(0, limit).join(', ')}, … (${names.length} in all)`;
}

/** Throws one HfLlamaError listing every missing, unexpected and mis-shaped tensor. */
export function validateLlamaTensors(config: LlamaConfig, tensors: Map<string, TensorLike>, source: string): void {
  const expected = expectedLlamaShapes(config);
  const missing = [...expected.keys()].filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
  const misShaped: string[] = [];
  for (const [name, t] of tensors) {
    const want = expected.get(name);
    if (want && !sameShape(t.shape, want)) misShaped.push(`${name} [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    else if (want && 'data' in t && t.data.length !== want.reduce((a, b) => a * b, 1)) misShaped.push(`${name}: data has ${t.data.length} elements for shape [${want.join(', ')}]`);
  }
  if (missing.length + unexpected.length + misShaped.length === 0) return;
  const parts = [`${source}: tensors do not match the Llama config (n_layer=${config.n_layer}, n_embd=${config.n_embd}, n_head=${config.n_head}, n_kv_head=${config.n_kv_head}, vocab_size=${config.vocab_size}, tie=${config.tie})`];
  if (missing.length) parts.push(`missing: ${listed(missing)}`);
  if (unexpected.length) parts.push(`unexpected: ${listed(unexpected)}`);
  if (misShaped.length) parts.push(`wrong shape: ${listed(misShaped, 6)}`);
  throw new HfLlamaError(parts.join('; '));
}

const isRotaryBuffer = (name: string): boolean => name.endsWith('.rotary_emb.inv_freq');
const stripPrefix = (name: string): string => (name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name);

function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Whether a directory holds a Llama checkpoint (its config.json says model_type 'llama'). */
export function isHfLlamaDir(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model_type?: unknown }).model_type === 'llama';
  } catch {
    return false;
  }
}

export interface HfLlamaModel {
  config: LlamaConfig;
  /** Our parameter names → tensors; exactly expectedLlamaShapes(config). */
  tensors: Map<string, HostTensor>;
}

function readLlamaConfig(dir: string): LlamaConfig {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new HfLlamaError(`${dir}: no config.json`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new HfLlamaError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  return llamaConfigFromHf(json, configPath);
}

/**
 * A Hugging Face Llama directory as initial weights for train(): its config is read now; each model that starts from
 * it reads the tensors straight into its host-tier arrays (no intermediate copy).
 */
export function hfLlamaWeights(dir: string): { config: LlamaConfig; source: WeightSource } {
  const config = readLlamaConfig(dir);
  return { config, source: { describe: dir, read: async (into) => void (await loadHfLlama(dir, { allocate: into })), stream: () => streamHfLlama(dir, config) } };
}

/** Every tensor of a Llama directory as a streamed tensor (read in pieces when used: never whole in memory). */
async function streamHfLlama(dir: string, config: LlamaConfig): Promise<Map<string, StreamedTensor>> {
  const tensors = new Map<string, StreamedTensor>();
  let storedHead: StreamedTensor | undefined;
  for (const file of hfWeightFiles(dir, (m) => new HfLlamaError(m))) {
    for (const [rawName, t] of await streamSafetensors(file, (e) => !isRotaryBuffer(e.name))) {
      const name = stripPrefix(rawName);
      if (tensors.has(name) || (name === HEAD && storedHead)) throw new HfLlamaError(`${file}: tensor '${name}' appears twice (with and without '${PREFIX}'?)`);
      if (name === HEAD && config.tie) storedHead = t;
      else tensors.set(name, t);
    }
  }
  const embed = tensors.get('embed_tokens.weight');
  if (storedHead && !(embed && (await sameStreamed(embed, storedHead)))) {
    throw new HfLlamaError(`${dir}: config has tie_word_embeddings=true but lm_head.weight differs from model.embed_tokens.weight; set "tie_word_embeddings": false to load an untied head`);
  }
  validateLlamaTensors(config, tensors, dir);
  return tensors;
}

/** Load a Hugging Face Llama directory (config.json + model.safetensors or a sharded index). */
export async function loadHfLlama(dir: string, options: { allocate?: (name: string, elements: number) => Float32Array } = {}): Promise<HfLlamaModel> {
  const config = readLlamaConfig(dir);
  const tensors = new Map<string, HostTensor>();
  let storedHead: HostTensor | undefined;
  for (const file of hfWeightFiles(dir, (m) => new HfLlamaError(m))) {
    const wanted = (e: TensorEntry): boolean => !isRotaryBuffer(e.name);
    // A tied model's stored head is only compared with the embedding: it gets an array of its own.
    const allocate = options.allocate ? (e: TensorEntry, n: number) => (config.tie && stripPrefix(e.name) === HEAD ? new Float32Array(n) : options.allocate!(stripPrefix(e.name), n)) : undefined;
    const contents = await readSafetensors(file, { filter: wanted, allocate });
    for (const [rawName, t] of contents.tensors) {
      const name = stripPrefix(rawName);
      if (tensors.has(name) || (name === HEAD && storedHead)) throw new HfLlamaError(`${file}: tensor '${name}' appears twice (with and without '${PREFIX}'?)`);
      if (name === HEAD && config.tie) storedHead = t;
      else tensors.set(name, t);
    }
  }
  if (storedHead) {
    const embed = tensors.get('embed_tokens.weight');
    if (!embed || !bitwiseEqual(embed.data, storedHead.data) || !sameShape(embed.shape, storedHead.shape)) {
      throw new HfLlamaError(`${dir}: config has tie_word_embeddings=true but lm_head.weight differs from model.embed_tokens.weight; set "tie_word_embeddings": false to load an untied head`);
    }
  }
  validateLlamaTensors(config, tensors, dir);
  return { config, tensors };
}

/**
 * Write config.json + weights that LlamaForCausalLM.from_pretrained(dir) loads; above `maxShardBytes` (default
 * HF's 5 GB) the weights are sharded with a model.safetensors.index.json.
 */
export async function saveHfLlama(dir: string, config: LlamaConfig, tensors: Map<string, TensorLike>, options: { maxShardBytes?: number } = {}): Promise<void> {
  validateLlamaTensors(config, tensors, 'saveHfLlama');
  const out = new Map<string, TensorLike>();
  for (const name of expectedLlamaShapes(config).keys()) out.set(name === HEAD ? name : PREFIX + name, tensors.get(name)!);
  await writeHfWeights(dir, out, { format: 'pt' }, options.maxShardBytes);
  await writeFileAtomic(join(dir, 'config.json'), [Buffer.from(`${JSON.stringify(llamaConfigToHf(config), null, 2)}\n`, 'utf8')]);
}
