/**
 * Workload files (JSON or YAML) for `hydra simulate`. Example:
 *
 *   name: my-grid
 *   devices: [1, 1, 2]            # a count, a list of speeds, or [{speed, memory}], or {count, speed, memory}
 *   deviceMemory: 16GiB           # for devices that do not say (default 16 GiB)
 *   bandwidth: 12GB/s             # host↔device per device (default 12 GB/s); 'inf' = free transfers
 *   sharedBandwidth: 8GB/s        # a copy's rate while a device computes (default: bandwidth)
 *   models:
 *     - id: xl                     # with count: N the ids are xl-0 … xl-(N-1)
 *       count: 4
 *       shards: 8                  # N identical shards described by the fields below …
 *       forward: 0.3               # … seconds per shard on a speed-1 device
 *       backward: 0.6
 *       paramBytes: 700MB
 *       peakBytes: 12GiB           # default 2 × paramBytes
 *       epochs: 2                  # with stepsPerEpoch; or steps: N
 *       stepsPerEpoch: 100
 *       evalBatches: 10
 *     - id: custom
 *       shards: [{forward: 0.2, backward: 0.4, paramBytes: 1GB}, {F: 0.1, FL: 0.5, B: 0.3, E: 0.1, paramBytes: 1GB}]
 *       steps: 50
 *     - id: llama                  # a real model instead of shards: the family's config fields (family default gpt2)
 *       model: {family: llama, preset: tinyllama-1.1b}
 *       batch: 8                   # batch size and tokens per sequence
 *       seq: 512
 *       tflops: 10                 # sustained TFLOP/s of a speed-1 device (default 10)
 *       steps: 100
 *
 * A `model` entry is cut by the real partitioner for the smallest device's memory (model-profile.ts): its shards,
 * bytes and peaks are the plan a job would use; its seconds come from the FLOPs of its matrix products.
 *
 * Every unknown field is an error naming it, so a typo never silently falls back to a default.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseBytes } from '../hydra/units.js';
import { DEFAULT_BANDWIDTH, DEFAULT_DEVICE_MEMORY, PRESETS } from './presets.js';
import { modelShards } from './model-profile.js';
import type { SimDevice, SimModel, SimShard, Workload } from './types.js';
import { validateWorkload } from './validate-workload.js';

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function bad(path: string, what: string, got: unknown): never {
  throw new RangeError(`${path}: expected ${what}, got ${show(got)}`);
}

function object(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'an object', v);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new RangeError(`${path ? `${path}.` : ''}${k}: unknown field (accepted: ${allowed.join(', ')})`);
  }
  return v as Obj;
}

function num(v: unknown, path: string, o: { min?: number; integer?: boolean; positive?: boolean } = {}): number {
  const what = `${o.integer ? 'an integer' : 'a number'}${o.positive ? ' > 0' : o.min !== undefined ? ` ≥ ${o.min}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(path, what, v);
  if (o.integer && !Number.isInteger(v)) bad(path, what, v);
  if (o.positive && !(v > 0)) bad(path, what, v);
  if (o.min !== undefined && v < o.min) bad(path, what, v);
  return v;
}

function bytes(v: unknown, path: string): number {
  if (typeof v !== 'number' && typeof v !== 'string') bad(path, "a size like '700MB', '16GiB' or a byte count", v);
  try {
    return parseBytes(v, path);
  } catch {
    return bad(path, "a size like '700MB', '16GiB' or a byte count", v);
  }
}

/** Bytes per second: a number, '12GB/s', '12GB' (per second implied), or 'inf'. */
export function parseBandwidth(v: unknown, path = 'bandwidth'): number {
  if (v === Infinity || (typeof v === 'string' && /^\s*(inf|infinity)\s*$/i.test(v))) return Infinity;
  if (typeof v === 'string') return bytes(v.replace(/\/s\s*$/i, ''), path);
  return bytes(v, path);
}

function devicesFrom(v: unknown, memory: number): SimDevice[] {
  const path = 'devices';
  if (typeof v === 'number') return new Array<SimDevice>(num(v, path, { integer: true, positive: true })).fill({ speed: 1, memoryBytes: memory }).map((d) => ({ ...d }));
  const one = (e: unknown, at: string): SimDevice[] => {
    if (typeof e === 'number') return [{ speed: num(e, `${at}.speed`, { positive: true }), memoryBytes: memory }];
    const o = object(e, at, ['speed', 'memory', 'count']);
    const count = o.count === undefined ? 1 : num(o.count, `${at}.count`, { integer: true, positive: true });
    const d = { speed: o.speed === undefined ? 1 : num(o.speed, `${at}.speed`, { positive: true }), memoryBytes: o.memory === undefined ? memory : bytes(o.memory, `${at}.memory`) };
    return Array.from({ length: count }, () => ({ ...d }));
  };
  if (Array.isArray(v)) {
    if (v.length === 0) bad(path, 'at least one device', v);
    return v.flatMap((e, i) => one(e, `${path}[${i}]`));
  }
  if (typeof v === 'object' && v !== null) return one(v, path);
  return bad(path, 'a device count, a list of speeds, or device objects', v);
}

const SHARD_COUNT_FIELDS = ['forward', 'backward', 'eval', 'paramBytes', 'peakBytes'] as const;
const REAL_MODEL_FIELDS = ['model', 'batch', 'seq', 'tflops'] as const;
const MODEL_FIELDS = ['id', 'count', 'shards', ...SHARD_COUNT_FIELDS, ...REAL_MODEL_FIELDS, 'steps', 'epochs', 'stepsPerEpoch', 'evalBatches', 'evalAfter'] as const;
const SHARD_FIELDS = ['forward', 'backward', 'eval', 'F', 'FL', 'B', 'E', 'paramBytes', 'peakBytes'] as const;

function shardFrom(e: unknown, at: string): SimShard {
  const o = object(e, at, SHARD_FIELDS);
  const paramBytes = o.paramBytes === undefined ? bad(`${at}.paramBytes`, 'a size', undefined) : bytes(o.paramBytes, `${at}.paramBytes`);
  const peakBytes = o.peakBytes === undefined ? 2 * paramBytes : bytes(o.peakBytes, `${at}.peakBytes`);
  const phased = ['F', 'FL', 'B', 'E'].some((k) => k in o);
  const simple = ['forward', 'backward', 'eval'].some((k) => k in o);
  if (phased && simple) throw new RangeError(`${at}: give either forward/backward(/eval) or F/FL/B/E, not both`);
  if (phased) {
    const t = (k: string) => num(o[k], `${at}.${k}`, { min: 0 });
    return { F: t('F'), FL: t('FL'), B: t('B'), E: t('E'), paramBytes, peakBytes };
  }
  const f = num(o.forward, `${at}.forward`, { min: 0 });
  const b = num(o.backward, `${at}.backward`, { min: 0 });
  const ev = o.eval === undefined ? f : num(o.eval, `${at}.eval`, { min: 0 });
  return { F: f, FL: f + b, B: f + b, E: ev, paramBytes, peakBytes };
}

/** A real model's shards: its family's plan for `deviceMemory` (model-profile.ts). */
async function realModelShards(o: Obj, at: string, deviceMemory: number): Promise<SimShard[]> {
  for (const k of ['shards', ...SHARD_COUNT_FIELDS]) {
    if (k in o) throw new RangeError(`${at}.${k}: not allowed with ${at}.model (the model's plan gives its shards)`);
  }
  const fields = object(o.model, `${at}.model`, Object.keys(o.model ?? {}));
  const { family = 'gpt2', ...config } = fields;
  if (typeof family !== 'string') bad(`${at}.model.family`, 'a family name', family);
  const B = num(o.batch, `${at}.batch`, { integer: true, positive: true });
  const T = num(o.seq, `${at}.seq`, { integer: true, positive: true });
  const tflops = o.tflops === undefined ? undefined : num(o.tflops, `${at}.tflops`, { positive: true });
  try {
    return await modelShards({ arch: { family, config }, B, T, deviceMemory, tflops });
  } catch (e) {
    throw new RangeError(`${at}: ${(e as Error).message}`);
  }
}

async function modelsFrom(e: unknown, at: string, deviceMemory: number): Promise<SimModel[]> {
  const o = object(e, at, MODEL_FIELDS);
  if (typeof o.id !== 'string' || o.id === '') bad(`${at}.id`, 'a non-empty string', o.id);
  let shards: SimShard[];
  if (o.model !== undefined) {
    shards = await realModelShards(o, at, deviceMemory);
  } else if (REAL_MODEL_FIELDS.some((k) => k in o)) {
    throw new RangeError(`${at}: ${REAL_MODEL_FIELDS.filter((k) => k in o).join(', ')} need ${at}.model (a real model to plan)`);
  } else if (Array.isArray(o.shards)) {
    for (const k of SHARD_COUNT_FIELDS) {
      if (k in o) throw new RangeError(`${at}.${k}: only allowed when shards is a count (here each shard gives its own)`);
    }
    shards = o.shards.map((s, k) => shardFrom(s, `${at}.shards[${k}]`));
  } else {
    const n = num(o.shards, `${at}.shards`, { integer: true, positive: true });
    const s = shardFrom({ forward: o.forward, backward: o.backward, eval: o.eval, paramBytes: o.paramBytes, peakBytes: o.peakBytes }, at);
    shards = Array.from({ length: n }, () => ({ ...s }));
  }
  let minibatches: number, stepsPerEpoch: number;
  if (o.steps !== undefined) {
    if (o.epochs !== undefined) throw new RangeError(`${at}: give either steps or epochs (with stepsPerEpoch), not both`);
    minibatches = num(o.steps, `${at}.steps`, { integer: true, positive: true });
    stepsPerEpoch = o.stepsPerEpoch === undefined ? minibatches : num(o.stepsPerEpoch, `${at}.stepsPerEpoch`, { integer: true, positive: true });
  } else if (o.epochs !== undefined) {
    const epochs = num(o.epochs, `${at}.epochs`, { integer: true, positive: true });
    stepsPerEpoch = num(o.stepsPerEpoch, `${at}.stepsPerEpoch`, { integer: true, positive: true });
    minibatches = epochs * stepsPerEpoch;
  } else {
    throw new RangeError(`${at}: needs steps, or epochs and stepsPerEpoch`);
  }
  const evalBatches = o.evalBatches === undefined ? 0 : num(o.evalBatches, `${at}.evalBatches`, { integer: true, min: 0 });
  const base: SimModel = { id: o.id, shards, minibatches, stepsPerEpoch, evalBatches };
  if (o.evalAfter !== undefined) {
    if (!Array.isArray(o.evalAfter)) bad(`${at}.evalAfter`, 'a list of step indices', o.evalAfter);
    base.evalAfter = o.evalAfter.map((s, j) => num(s, `${at}.evalAfter[${j}]`, { integer: true, min: 0 }));
  }
  if (o.count === undefined) return [base];
  const count = num(o.count, `${at}.count`, { integer: true, positive: true });
  return Array.from({ length: count }, (_, i) => ({ ...base, id: `${o.id}-${i}`, shards: base.shards.map((s) => ({ ...s })) }));
}

/** A workload from a parsed JSON/YAML document. */
export async function parseWorkload(doc: unknown, fallbackName = 'workload'): Promise<Workload> {
  const o = object(doc, '', ['name', 'description', 'devices', 'deviceMemory', 'bandwidth', 'sharedBandwidth', 'models']);
  const memory = o.deviceMemory === undefined ? DEFAULT_DEVICE_MEMORY : bytes(o.deviceMemory, 'deviceMemory');
  const name = o.name === undefined ? fallbackName : typeof o.name === 'string' ? o.name : bad('name', 'a string', o.name);
  const devices = devicesFrom(o.devices ?? 1, memory);
  if (!Array.isArray(o.models) || o.models.length === 0) bad('models', 'a non-empty list of models', o.models);
  // A real model's plan must fit every device it may run on.
  const smallest = Math.min(...devices.map((d) => d.memoryBytes));
  const models: SimModel[] = [];
  for (const [i, m] of o.models.entries()) models.push(...(await modelsFrom(m, `models[${i}]`, smallest)));
  const w: Workload = { name, models, devices, bandwidth: o.bandwidth === undefined ? DEFAULT_BANDWIDTH : parseBandwidth(o.bandwidth) };
  if (o.sharedBandwidth !== undefined) w.sharedBandwidth = parseBandwidth(o.sharedBandwidth, 'sharedBandwidth');
  if (o.description !== undefined) w.description = String(o.description);
  validateWorkload(w);
  return w;
}

/** A preset name, or a .json / .yaml / .yml file. */
export async function loadWorkload(source: string): Promise<Workload> {
  const preset = PRESETS[source];
  if (preset) return preset();
  const ext = extname(source).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new RangeError(`workload: expected a preset (${Object.keys(PRESETS).join(', ')}) or a .json/.yaml file, got '${source}'`);
  }
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (e) {
    throw new Error(`workload: cannot read '${source}': ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`${source}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  try {
    return await parseWorkload(doc, source.replace(/^.*[\\/]/, '').replace(/\.(json|ya?ml)$/i, ''));
  } catch (e) {
    throw new RangeError(`${source}: ${(e as Error).message}`);
  }
}

/** CLI --devices: a count ('8') or a list of speeds ('1,1,2'); memory comes from the workload's devices. */
export function parseDevicesFlag(v: string, memoryBytes: number): SimDevice[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 1 && /^\d+$/.test(parts[0])) {
    const n = Number(parts[0]);
    if (n < 1) bad('--devices', 'a device count ≥ 1 or a list of speeds like 1,1,2', v);
    return Array.from({ length: n }, () => ({ speed: 1, memoryBytes }));
  }
  return parts.map((p) => {
    const speed = Number(p);
    if (p === '' || !(speed > 0) || !Number.isFinite(speed)) bad('--devices', 'a device count or a list of positive speeds like 1,1,2', v);
    return { speed, memoryBytes };
  });
}
