/**
 * The `hydra train` config file: its validated form and the parser from raw YAML/JSON data. Every field is checked;
 * unknown fields are errors naming the field path, the value and what is accepted there.
 *
 * Per-model hyper-parameters (see hparams.ts) live in their sections (model.dropout, optimizer.lr, batch_size, ...)
 * or in `grid`, never both. Everything else describes the job: data, length, devices, budgets, output.
 */
import { ACTIVATION_MODES, type ActivationMode } from '../hydra/tier/activation-offload.js';
import { parseDevices } from '../hydra/run/device-spec.js';
import { DEFAULT_POLICY, POLICY_NAMES, type PolicyName } from '../hydra/scheduler/types.js';
import { boolean, mapping, nonEmptyString, nonNegativeInt, onlyKeys, oneOf, positiveInt, seedInt } from './checks.js';
import { ConfigError, expected, joinPath } from './errors.js';
import { HPARAM_KEYS, hparamAtPath, hparamSpec, isHKey, sectionFields, type HKey, type HParams, type HValue } from './hparams.js';
import { resolveConfigPath } from './paths.js';
import { familyNames } from '../nn/families.js';
import { size } from './sizes.js';
import { validateEarlyStopping, type EarlyStoppingConfig } from '../hydra/scheduler/early-stopping/index.js';

/** 'auto': WikiText when the file name says so (e.g. contains 'wikitext'), else plain text. */
export const DATA_FORMATS = ['auto', 'text', 'wikitext'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

export interface GridAxis {
  key: HKey;
  values: HValue[];
}

/**
 * One named model of an architecture comparison (`grid: { model: [...] }`): its family and the family's config fields
 * as written (a GPT-2 entry's fields are the model section's, checked here; another family's are checked by the
 * family when the grid is expanded).
 */
export interface ModelVariant {
  name: string;
  family: string;
  fields: Record<string, unknown>;
  /** Where it was written, e.g. 'grid.model[1]'. */
  path: string;
}

export interface DataConfig {
  /** Absolute paths. */
  train: string;
  eval?: string;
  format: DataFormat;
  /** Evaluate at most this many held-out tokens (default: the whole eval file). */
  evalTokens?: number;
}

export type TrainLength = { steps: number } | { epochs: number };

export interface TrainConfig {
  name: string;
  /** Where the config came from (file path or '<inline>'), for messages. */
  source: string;
  /** Directory relative paths resolved against. */
  baseDir: string;
  /** Hyper-parameters set in the sections: common to every model (disjoint from the grid's keys). */
  base: HParams;
  grid: GridAxis[];
  /** Named models compared in one job (`grid.model`), the outermost grid axis; absent: one architecture. */
  models?: ModelVariant[];
  /** Pretrained Hugging Face GPT-2 directory (absolute); the model shape comes from its config.json. */
  initFrom?: string;
  data: DataConfig;
  length: TrainLength;
  devices: string;
  deviceMemory: number;
  hostMemory?: number;
  /** Where the disk tier puts scratch files (absolute); absent: `<out_dir>/spill`. */
  spillDir?: string;
  policy: PolicyName;
  policySeed?: number;
  planDir?: string;
  /** Absolute. */
  outDir: string;
  prefetch?: boolean;
  /** Recompute each shard's forward in its backward (default) or offload its activations to RAM (TrainOptions.activations). */
  activations?: ActivationMode;
  /** Checkpoint every model every this many steps (0: only when the job is stopped). */
  checkpointEvery: number;
  /** Stop losing models early (ASHA, median rule); `{ kind: 'none' }` by default. */
  earlyStopping: EarlyStoppingConfig;
  /** Steps per cluster segment (`hydra submit`; `hydra train` ignores it). */
  segmentSteps?: number;
}

const TOP_LEVEL = [
  'name', 'model', 'init', 'data', 'optimizer', 'schedule', ...sectionFields(''), 'grid', 'steps', 'epochs',
  'devices', 'device_memory', 'host_memory', 'spill_dir', 'policy', 'policy_seed', 'plan_dir', 'out_dir', 'prefetch', 'activations', 'checkpoint_every', 'early_stopping',
  'segment_steps',
];
const DATA_FIELDS = ['train', 'eval', 'format', 'eval_tokens'];
/** With init.from the checkpoint fixes the shape; only these model fields may still be set. */
const MODEL_FIELDS_WITH_INIT = ['dropout'];

export interface ParseOptions {
  /** Directory that relative paths resolve against (the config file's directory). */
  baseDir: string;
  /** For messages and the default name. */
  source?: string;
  /** Default job name when the file has none (the config file's base name). */
  defaultName?: string;
  /** Where out_dir defaults to when absent: `<cwd>/runs/<name>`. */
  cwd?: string;
  /** Check that data files and init directories exist (default true). */
  checkFiles?: boolean;
}

export function parseTrainConfig(raw: unknown, opts: ParseOptions): TrainConfig {
  const doc = mapping(raw, '');
  onlyKeys(doc, '', TOP_LEVEL);
  const checkFiles = opts.checkFiles ?? true;
  const base: HParams = {};

  const initFrom = parseInit(doc.init, opts.baseDir, checkFiles);
  const models = parseModelVariants(doc.grid, doc.model, initFrom !== undefined);
  if (!models) parseModel(doc.model, base, initFrom !== undefined);
  parseOptimizer(doc.optimizer, base);
  parseSection(doc.schedule, 'schedule', base);
  for (const field of sectionFields('')) if (doc[field] !== undefined) setBase(base, field, doc[field]);

  const grid = parseGrid(doc.grid, base, initFrom !== undefined);
  const name = doc.name === undefined ? (opts.defaultName ?? 'job') : nonEmptyString(doc.name, 'name');

  return {
    name,
    source: opts.source ?? '<inline>',
    baseDir: opts.baseDir,
    base,
    grid,
    ...(models ? { models } : {}),
    initFrom,
    data: parseData(doc.data, opts.baseDir, checkFiles),
    length: parseLength(doc),
    devices: parseDeviceSpec(doc.devices ?? 'cpu:1x1', 'devices'),
    deviceMemory: doc.device_memory === undefined ? missing('device_memory', "a per-device memory budget such as '512MiB'") : size(doc.device_memory, 'device_memory'),
    hostMemory: doc.host_memory === undefined ? undefined : size(doc.host_memory, 'host_memory'),
    spillDir: doc.spill_dir === undefined ? undefined : resolveConfigPath(doc.spill_dir, 'spill_dir', opts.baseDir),
    policy: doc.policy === undefined ? DEFAULT_POLICY : oneOf(POLICY_NAMES)(doc.policy, 'policy'),
    policySeed: doc.policy_seed === undefined ? undefined : seedInt(doc.policy_seed, 'policy_seed'),
    planDir: doc.plan_dir === undefined ? undefined : resolveConfigPath(doc.plan_dir, 'plan_dir', opts.baseDir),
    outDir:
      doc.out_dir === undefined
        ? resolveConfigPath(`runs/${name}`, 'out_dir', opts.cwd ?? process.cwd())
        : resolveConfigPath(doc.out_dir, 'out_dir', opts.baseDir),
    prefetch: doc.prefetch === undefined ? undefined : boolean(doc.prefetch, 'prefetch'),
    activations: doc.activations === undefined ? undefined : oneOf(ACTIVATION_MODES)(doc.activations, 'activations'),
    checkpointEvery: doc.checkpoint_every === undefined ? 0 : nonNegativeInt(doc.checkpoint_every, 'checkpoint_every'),
    earlyStopping:
      doc.early_stopping === undefined
        ? { kind: 'none' }
        : validateEarlyStopping(doc.early_stopping, 'early_stopping', (path, detail) => {
            throw new ConfigError(path, detail);
          }),
    segmentSteps: doc.segment_steps === undefined ? undefined : positiveInt(doc.segment_steps, 'segment_steps'),
  };
}

function missing(path: string, what: string): never {
  throw new ConfigError(path, `required field missing: ${what}`);
}

export function parseDeviceSpec(value: unknown, path: string): string {
  const spec = nonEmptyString(value, path);
  try {
    parseDevices(spec, path);
  } catch {
    throw expected(path, "'cpu:NxT' (N devices of T threads, e.g. cpu:2x1), 'js:N' or 'webgpu:N'", value);
  }
  return spec;
}

function setBase(base: HParams, path: string, value: unknown): void {
  const spec = hparamAtPath(path)!;
  base[spec.key] = spec.check(value, path);
}

/** A section whose fields are all hyper-parameters. */
function parseSection(value: unknown, section: string, base: HParams, accepted = sectionFields(section)): void {
  if (value === undefined) return;
  const obj = mapping(value, section);
  onlyKeys(obj, section, accepted);
  for (const [k, v] of Object.entries(obj)) setBase(base, joinPath(section, k), v);
}

function parseModel(value: unknown, base: HParams, hasInit: boolean): void {
  if (value === undefined) {
    if (!hasInit) missing('model', 'a preset (model: { preset: gpt2-tiny }) or a shape (n_layer, n_head, n_embd, n_ctx)');
    return;
  }
  if (hasInit) {
    const obj = mapping(value, 'model');
    for (const k of Object.keys(obj)) {
      if (!MODEL_FIELDS_WITH_INIT.includes(k)) {
        throw new ConfigError(joinPath('model', k), `not allowed with init.from: the model shape comes from the checkpoint's config.json; accepted in model with init: ${MODEL_FIELDS_WITH_INIT.join(', ')}`);
      }
    }
  }
  parseSection(value, 'model', base);
}

function parseOptimizer(value: unknown, base: HParams): void {
  if (value === undefined) return;
  const obj = mapping(value, 'optimizer');
  onlyKeys(obj, 'optimizer', sectionFields('optimizer'));
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'betas') {
      setBase(base, joinPath('optimizer', k), v);
      continue;
    }
    if (!Array.isArray(v) || v.length !== 2) throw expected('optimizer.betas', 'a pair [beta1, beta2] such as [0.9, 0.999]', v);
    setBase(base, 'optimizer.betas[0]', v[0]);
    setBase(base, 'optimizer.betas[1]', v[1]);
  }
}

function parseInit(value: unknown, baseDir: string, checkFiles: boolean): string | undefined {
  if (value === undefined) return undefined;
  const obj = mapping(value, 'init');
  onlyKeys(obj, 'init', ['from']);
  if (obj.from === undefined) missing('init.from', 'a Hugging Face GPT-2 directory (config.json + model.safetensors)');
  return resolveConfigPath(obj.from, 'init.from', baseDir, { mustExist: checkFiles ? 'dir' : 'any' });
}

function parseData(value: unknown, baseDir: string, checkFiles: boolean): DataConfig {
  if (value === undefined) missing('data', 'data: { train: <text file>, eval: <text file> }');
  const obj = mapping(value, 'data');
  onlyKeys(obj, 'data', DATA_FIELDS);
  if (obj.train === undefined) missing('data.train', 'the training text file');
  const mustExist = checkFiles ? 'file' : 'any';
  return {
    train: resolveConfigPath(obj.train, 'data.train', baseDir, { mustExist }),
    eval: obj.eval === undefined ? undefined : resolveConfigPath(obj.eval, 'data.eval', baseDir, { mustExist }),
    format: obj.format === undefined ? 'auto' : oneOf(DATA_FORMATS)(obj.format, 'data.format'),
    evalTokens: obj.eval_tokens === undefined ? undefined : positiveInt(obj.eval_tokens, 'data.eval_tokens'),
  };
}

function parseLength(doc: Record<string, unknown>): TrainLength {
  if (doc.steps !== undefined && doc.epochs !== undefined) {
    throw new ConfigError('steps', `set either steps or epochs, not both (steps ${String(doc.steps)}, epochs ${String(doc.epochs)})`);
  }
  if (doc.steps !== undefined) return { steps: positiveInt(doc.steps, 'steps') };
  return { epochs: doc.epochs === undefined ? 1 : positiveInt(doc.epochs, 'epochs') };
}

const SHAPE_KEYS: HKey[] = ['preset', 'n_layer', 'n_head', 'n_embd', 'n_ctx', 'vocab_size', 'tie'];

const MODEL_KEYS = sectionFields('model');

/**
 * `grid.model`: a list of named models, each `{ name, family?, ...fields }` (family default gpt2). With it, the
 * model section and the model keys of the grid are not used (each entry is a whole model), nor is init.from.
 */
function parseModelVariants(grid: unknown, model: unknown, hasInit: boolean): ModelVariant[] | undefined {
  if (grid === undefined || mapping(grid, 'grid').model === undefined) return undefined;
  const list = mapping(grid, 'grid').model;
  const path = 'grid.model';
  if (hasInit) throw new ConfigError(path, 'not allowed with init.from: the model comes from the checkpoint');
  if (model !== undefined) throw new ConfigError('model', `not used with ${path}: give each model's fields in its ${path} entry`);
  for (const k of Object.keys(mapping(grid, 'grid'))) {
    if (MODEL_KEYS.includes(k)) throw new ConfigError(joinPath('grid', k), `not used with ${path}: give each model's ${k} in its ${path} entry`);
  }
  if (!Array.isArray(list) || list.length === 0) throw expected(path, 'a non-empty list of models, e.g. [{ name: small, preset: gpt2-tiny }, { name: wide, preset: gpt2-tiny, n_embd: 128 }]', list);
  const names = new Map<string, number>();
  return list.map((entry, i): ModelVariant => {
    const at = joinPath(path, i);
    const { name, family, ...fields } = mapping(entry, at);
    const n = nonEmptyString(name, joinPath(at, 'name'));
    if (!/^[\w.+-]+$/.test(n)) throw expected(joinPath(at, 'name'), 'a name of letters, digits and . _ + - (it names the model in results and files)', name);
    if (names.has(n)) throw new ConfigError(joinPath(at, 'name'), `duplicate model name "${n}" (same as ${joinPath(path, names.get(n)!)}.name)`);
    names.set(n, i);
    const fam = family === undefined ? 'gpt2' : oneOf(familyNames())(family, joinPath(at, 'family'));
    if (fam === 'gpt2') {
      onlyKeys(fields, at, ['name', 'family', ...MODEL_KEYS]);
      for (const [k, v] of Object.entries(fields)) fields[k] = hparamAtPath(joinPath('model', k))!.check(v, joinPath(at, k));
    }
    return { name: n, family: fam, fields, path: at };
  });
}

function parseGrid(value: unknown, base: HParams, hasInit: boolean): GridAxis[] {
  if (value === undefined) return [];
  const obj = mapping(value, 'grid');
  onlyKeys(obj, 'grid', [...HPARAM_KEYS, 'model']);
  const axes: GridAxis[] = [];
  for (const [key, list] of Object.entries(obj)) {
    if (key === 'model') continue; // parseModelVariants
    if (!isHKey(key)) continue; // unreachable after onlyKeys; narrows the type
    const spec = hparamSpec(key);
    const path = joinPath('grid', key);
    if (hasInit && SHAPE_KEYS.includes(key)) throw new ConfigError(path, 'not allowed with init.from: the model shape comes from the checkpoint');
    if (base[key] !== undefined) {
      throw new ConfigError(path, `${key} is also set at ${spec.path} (${String(base[key])}); set a hyper-parameter in one place`);
    }
    if (!Array.isArray(list) || list.length === 0) {
      throw expected(path, `a non-empty list of values (each ${spec.check.accepts}), e.g. ${key}: [a, b]`, list);
    }
    const values = list.map((v, i) => spec.check(v, joinPath(path, i)));
    values.forEach((v, i) => {
      const first = values.indexOf(v);
      if (first !== i) throw new ConfigError(joinPath(path, i), `duplicate value ${String(v)} (same as ${joinPath(path, first)})`);
    });
    axes.push({ key, values });
  }
  return axes;
}
