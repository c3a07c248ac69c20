/**
 * Where a Hugging Face model directory keeps its weights: `model.safetensors`, or the shards a
 * `model.safetensors.index.json` lists (its weight_map) — for every family's loader. Writing the sharded form is
 * writeShardedSafetensors: shards of at most `maxShardBytes` each (HF's `max_shard_size`, 5 GB by default), named
 * as save_pretrained names them, plus the index.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../data/atomic-write.js';
import { tensorElements, type TensorLike } from './streamed-tensor.js';
import { writeSafetensors } from './safetensors.js';

export const INDEX_FILE = 'model.safetensors.index.json';
export const HF_MAX_SHARD_BYTES = 5e9;

/**
 * A file named by a sharded checkpoint's index, resolved and refused unless it lies inside the model directory
 * (following symbolic links): a hostile index must not make us open, or quote, any other file.
 */
function fileInModelDir(dir: string, name: unknown, index: string, fail: (message: string) => Error): string {
  if (typeof name !== 'string' || name === '') throw fail(`${index}: weight_map values must be file names, got ${JSON.stringify(name)?.slice(0, 80)}`);
  const shown = JSON.stringify(name.length > 120 ? `${name.slice(0, 117)}...` : name);
  const outside = (from: string, p: string) => {
    const rel = relative(from, p);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel);
  };
  const path = resolve(dir, name);
  if (outside(resolve(dir), path)) throw fail(`${index}: weight_map names ${shown}, which is outside the model directory ${dir}; refused`);
  if (existsSync(path) && outside(realpathSync(dir), realpathSync(path))) {
    throw fail(`${index}: weight_map names ${shown}, a link to ${realpathSync(path)} outside the model directory ${dir}; refused`);
  }
  return path;
}

/** The weight files of `dir`, in name order; `fail` makes the family's own error type. */
export function hfWeightFiles(dir: string, fail: (message: string) => Error): string[] {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const index = join(dir, INDEX_FILE);
  if (existsSync(index)) {
    let map: unknown;
    try {
      map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown }).weight_map;
    } catch (err) {
      throw fail(`${index}: not valid JSON (${(err as Error).message})`);
    }
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw fail(`${index}: missing 'weight_map' object`);
    return [...new Set(Object.values(map as Record<string, unknown>))].map((f) => fileInModelDir(dir, f, index, fail)).sort();
  }
  const bin = existsSync(join(dir, 'pytorch_model.bin')) ? ' (found pytorch_model.bin: re-save it with safe_serialization=True)' : '';
  throw fail(`${dir}: no model.safetensors or ${INDEX_FILE}${bin}`);
}

/**
 * Writes `tensors` (in the given order) as model.safetensors when they fit one shard, else as
 * model-0000k-of-0000n.safetensors shards filled in order up to maxShardBytes (a tensor larger than that gets a shard
 * of its own) plus model.safetensors.index.json. Returns the files written.
 */
export async function writeHfWeights(dir: string, tensors: Map<string, TensorLike>, metadata: Record<string, string>, maxShardBytes = HF_MAX_SHARD_BYTES): Promise<string[]> {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: Map<string, TensorLike>[] = [];
  let current = new Map<string, TensorLike>(), bytes = 0, total = 0;
  for (const [name, t] of tensors) {
    const size = tensorElements(t) * 4;
    if (current.size > 0 && bytes + size > maxShardBytes) {
      shards.push(current);
      current = new Map();
      bytes = 0;
    }
    current.set(name, t);
    bytes += size;
    total += size;
  }
  if (current.size > 0 || shards.length === 0) shards.push(current);
  if (shards.length === 1) {
    await writeSafetensors(join(dir, 'model.safetensors'), shards[0], metadata);
    // A sharded layout left by an earlier save would be stale beside it.
    removeStaleWeights(dir, new Set(['model.safetensors']));
    return ['model.safetensors'];
  }
  const pad = (k: number) => String(k).padStart(5, '0');
  const files = shards.map((_, k) => `model-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (const [k, shard] of shards.entries()) {
    await writeSafetensors(join(dir, files[k]), shard, metadata);
    for (const name of shard.keys()) weightMap[name] = files[k];
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  // An earlier single-file save would win over the index when the directory is read (hfWeightFiles): it goes
  // before the index, the sharded layout's commit point, is written; stale shards of another count go after.
  rmSync(join(dir, 'model.safetensors'), { force: true });
  await writeFileAtomic(join(dir, INDEX_FILE), [Buffer.from(`${JSON.stringify(index, null, 2)}\n`, 'utf8')]);
  removeStaleWeights(dir, new Set([...files, INDEX_FILE]));
  return [...files, INDEX_FILE];
}

/** Remove weight files of this writer's layouts that are not in `keep` (left by an earlier save of the directory). */
function removeStaleWeights(dir: string, keep: Set<string>): void {
  for (const name of readdirSync(dir)) {
    const ours = name === 'model.safetensors' || name === INDEX_FILE || /^model-\d{5}-of-\d{5}\.safetensors$/.test(name);
    if (ours && !keep.has(name)) rmSync(join(dir, name), { force: true });
  }
}
