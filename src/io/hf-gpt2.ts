/**
 * Hugging Face GPT-2 weights ↔ our parameters.
 *
 * Our parameter names ARE Hugging Face's GPT2Model names (no `transformer.` prefix) with the same layouts, e.g.
 * `h.{i}.attn.c_attn.weight` is (C, 3C) in Conv1D (in, out) order; see `expectedGpt2Shapes`. Loading accepts names
 * with or without the `transformer.` prefix (GPT2LMHeadModel.save_pretrained writes it, the original hub files do
 * not), skips the `attn.bias` / `attn.masked_bias` buffers, and reads `model.safetensors` or a sharded
 * `model.safetensors.index.json`. Saving writes what GPT2LMHeadModel.save_pretrained writes: prefixed names,
 * `lm_head.weight` only when the head is untied, and metadata {format: 'pt'} (transformers refuses safetensors files
 * without it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpt2Config } from '../nn/gpt2-config.js';
import { writeFileAtomic } from '../data/atomic-write.js';
import { gpt2ConfigFromHf, gpt2ConfigToHf, HfGpt2Error, type HfConfigOptions } from './hf-gpt2-config.js';
import type { HostTensor } from './host-tensor.js';
import { sameStreamed, type StreamedTensor, type TensorLike } from './streamed-tensor.js';
import type { WeightSource } from '../nn/host-tensor.js';
import { hfWeightFiles } from './hf-weight-files.js';
import { readSafetensors, readSafetensorsHeader, streamSafetensors, writeSafetensors, type TensorEntry } from './safetensors.js';

export { HfGpt2Error } from './hf-gpt2-config.js';

const PREFIX = 'transformer.';

/** Every parameter of a GPT-2 config with its shape, in model order. */
export function expectedGpt2Shapes(config: Gpt2Config): Map<string, number[]> {
  const { n_layer: L, n_embd: C, n_ctx, vocab_size: V } = config;
  const m = new Map<string, number[]>([['wte.weight', [V, C]], ['wpe.weight', [n_ctx, C]]]);
  for (let i = 0; i < L; i++) {
    const h = `h.${i}.`;
    m.set(`${h}ln_1.weight`, [C]).set(`${h}ln_1.bias`, [C]);
    m.set(`${h}attn.c_attn.weight`, [C, 3 * C]).set(`${h}attn.c_attn.bias`, [3 * C]);
    m.set(`${h}attn.c_proj.weight`, [C, C]).set(`${h}attn.c_proj.bias`, [C]);
    m.set(`${h}ln_2.weight`, [C]).set(`${h}ln_2.bias`, [C]);
    m.set(`${h}mlp.c_fc.weight`, [C, 4 * C]).set(`${h}mlp.c_fc.bias`, [4 * C]);
    m.set(`${h}mlp.c_proj.weight`, [4 * C, C]).set(`${h}mlp.c_proj.bias`, [C]);
  }
  m.set('ln_f.weight', [C]).set('ln_f.bias', [C]);
  if (!config.tie) m.set('lm_head.weight', [V, C]);
  return m;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function listed(names: string[], limit = 12): string {
  return names.length <= limit ? names.join(', ') : `${names.slice(0, limit).join(', ')}, … (${names.length} in all)`;
}

/** Throws one HfGpt2Error listing every missing, unexpected and mis-shaped tensor. */
export function validateGpt2Tensors(config: Gpt2Config, tensors: Map<string, TensorLike>, source: string): void {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if ('data' in t && t.data.length !== n) bad.push(`${name}: data has ${t.data.length} elements for shape [${t.shape.join(', ')}]`);
  }
  validateGpt2Shapes(config, new Map([...tensors].map(([k, t]) => [k, t.shape])), source, bad);
}

/** The same check on names and shapes alone (from file headers, before any tensor is read). */
function validateGpt2Shapes(config: Gpt2Config, shapes: Map<string, readonly number[]>, source: string, misShaped: string[] = []): void {
  const expected = expectedGpt2Shapes(config);
  const missing = [...expected.keys()].filter((k) => !shapes.has(k));
  const unexpected = [...shapes.keys()].filter((k) => !expected.has(k));
  for (const [name, shape] of shapes) {
    const want = expected.get(name);
    if (want && !sameShape(shape, want)) misShaped.push(`${name} [${shape.join(', ')}], expected [${want.join(', ')}]`);
  }
  if (missing.length + unexpected.length + misShaped.length === 0) return;
  const parts = [`${source}: tensors do not match GPT-2 (n_layer=${config.n_layer}, n_embd=${config.n_embd}, n_ctx=${config.n_ctx}, vocab_size=${config.vocab_size}, tie=${config.tie})`];
  if (missing.length) parts.push(`missing: ${listed(missing)}`);
  if (unexpected.length) parts.push(`unexpected: ${listed(unexpected)}`);
  if (misShaped.length) parts.push(`wrong shape: ${listed(misShaped, 6)}`);
  throw new HfGpt2Error(parts.join('; '));
}

/** HF buffers that are not parameters: the causal mask and its fill value. */
function isAttentionBuffer(name: string): boolean {
  return /(^|\.)attn\.(bias|masked_bias)$/.test(name); // not c_attn.bias: that is preceded by '_', not '.'
}

const stripPrefix = (name: string): string => (name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name);

function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export interface HfGpt2Model {
  config: Gpt2Config;
  /** Our parameter names → tensors; exactly expectedGpt2Shapes(config). */
  tensors: Map<string, HostTensor>;
  /** Config values read but not honoured exactly (e.g. attn_pdrop). */
  warnings: string[];
}

export interface LoadHfOptions extends HfConfigOptions {
  /** Where to put each tensor (e.g. host-tier shared memory). */
  allocate?: (name: string, elements: number) => Float32Array;
}

/** A GPT-2 directory whose config and tensor headers were checked: ready to read. */
interface OpenedHfGpt2 {
  config: Gpt2Config;
  warnings: string[];
  files: string[];
}

/** Read config.json and every weight file's header; names and shapes are checked before any tensor is read. */
async function openHfGpt2(dir: string, options: HfConfigOptions): Promise<OpenedHfGpt2> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new HfGpt2Error(`${dir}: no config.json`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new HfGpt2Error(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const { config, warnings } = gpt2ConfigFromHf(json, configPath, options);
  // Headers first: a file with unexpected or mis-shaped tensors (or a huge one the model does not use) is refused
  // without reading its data.
  const files = hfWeightFiles(dir, (m) => new HfGpt2Error(m));
  const shapes = new Map<string, readonly number[]>();
  let headShape: readonly number[] | undefined;
  for (const file of files) {
    for (const e of (await readSafetensorsHeader(file)).entries) {
      if (isAttentionBuffer(e.name)) continue;
      const name = stripPrefix(e.name);
      if (shapes.has(name) || (name === 'lm_head.weight' && headShape)) throw new HfGpt2Error(`${file}: tensor '${name}' appears twice (with and without '${PREFIX}'?)`);
      if (name === 'lm_head.weight' && config.tie) headShape = e.shape;
      else shapes.set(name, e.shape);
    }
  }
  validateGpt2Shapes(config, shapes, dir);
  return { config, warnings, files };
}

/** Every tensor of an opened directory, each into the array `allocate` gives (default: a new one). */
async function readHfGpt2(dir: string, { config, files }: OpenedHfGpt2, allocate?: (name: string, elements: number) => Float32Array): Promise<Map<string, HostTensor>> {
  const tensors = new Map<string, HostTensor>();
  let lmHead: HostTensor | undefined;
  for (const file of files) {
    const wanted = (e: TensorEntry): boolean => !isAttentionBuffer(e.name);
    // A tied model's stored head is only compared with the embedding: it gets an array of its own.
    const into = allocate ? (e: TensorEntry, n: number) => (config.tie && stripPrefix(e.name) === 'lm_head.weight' ? new Float32Array(n) : allocate(stripPrefix(e.name), n)) : undefined;
    const contents = await readSafetensors(file, { filter: wanted, allocate: into });
    for (const [rawName, t] of contents.tensors) {
      const name = stripPrefix(rawName);
      if (name === 'lm_head.weight' && config.tie) lmHead = t;
      else tensors.set(name, t);
    }
  }
  if (lmHead) {
    // Tied models may still store the head (older transformers did): accept it only if it IS the embedding.
    const wte = tensors.get('wte.weight');
    if (!wte || !bitwiseEqual(wte.data, lmHead.data) || !sameShape(wte.shape, lmHead.shape)) {
      throw new HfGpt2Error(`${dir}: config has tie_word_embeddings=true but lm_head.weight differs from wte.weight; set "tie_word_embeddings": false to load an untied head`);
    }
  }
  validateGpt2Tensors(config, tensors, dir);
  return tensors;
}

/** Every tensor of an opened directory as a streamed tensor (read in pieces when used: never whole in memory). */
async function streamHfGpt2(dir: string, { config, files }: OpenedHfGpt2): Promise<Map<string, StreamedTensor>> {
  const tensors = new Map<string, StreamedTensor>();
  let lmHead: StreamedTensor | undefined;
  for (const file of files) {
    for (const [rawName, t] of await streamSafetensors(file, (e) => !isAttentionBuffer(e.name))) {
      const name = stripPrefix(rawName);
      if (name === 'lm_head.weight' && config.tie) lmHead = t;
      else tensors.set(name, t);
    }
  }
  const wte = tensors.get('wte.weight');
  if (lmHead && !(wte && (await sameStreamed(wte, lmHead)))) {
    throw new HfGpt2Error(`${dir}: config has tie_word_embeddings=true but lm_head.weight differs from wte.weight; set "tie_word_embeddings": false to load an untied head`);
  }
  validateGpt2Tensors(config, tensors, dir);
  return tensors;
}

/** Load a Hugging Face GPT-2 directory (config.json + model.safetensors). */
export async function loadHfGpt2(dir: string, options: LoadHfOptions = {}): Promise<HfGpt2Model> {
  const opened = await openHfGpt2(dir, options);
  return { config: opened.config, tensors: await readHfGpt2(dir, opened, options.allocate), warnings: opened.warnings };
}

/**
 * A Hugging Face GPT-2 directory as initial weights for train(): its config and headers are checked now; each model
 * that starts from it reads the tensors straight into its host-tier arrays (no intermediate copy).
 */
export async function hfGpt2Weights(dir: string, options: HfConfigOptions = {}): Promise<{ config: Gpt2Config; warnings: string[]; source: WeightSource }> {
  const opened = await openHfGpt2(dir, options);
  const source: WeightSource = {
    describe: dir,
    read: async (into) => {
      await readHfGpt2(dir, opened, into);
    },
    stream: () => streamHfGpt2(dir, opened),
  };
  return { config: opened.config, warnings: opened.warnings, source };
}

/** Write config.json + model.safetensors that Hugging Face's GPT2LMHeadModel.from_pretrained(dir) loads. */
export async function saveHfGpt2(dir: string, config: Gpt2Config, tensors: Map<string, TensorLike>): Promise<void> {
  validateGpt2Tensors(config, tensors, 'saveHfGpt2');
  const out = new Map<string, TensorLike>();
  for (const [name, t] of tensors) out.set(name === 'lm_head.weight' ? name : PREFIX + name, t);
  await writeSafetensors(join(dir, 'model.safetensors'), out, { format: 'pt' });
  await writeFileAtomic(join(dir, 'config.json'), [Buffer.from(`${JSON.stringify(gpt2ConfigToHf(config), null, 2)}\n`, 'utf8')]);
}
