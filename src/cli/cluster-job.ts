/**
 * A config file ↔ a cluster job spec. `hydra submit` turns the config into a spec (data files uploaded to the store
 * by content hash, every model's length fixed); `hydra worker` turns the spec back into exactly the tasks
 * `hydra train` would build from the same config, on its own devices; `hydra results` reads the config's model specs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { LocalJob } from '../cluster/segment-runner.js';
import type { Store } from '../cluster/store.js';
import { dataKey, type ClusterJobSpec, type DataBlob } from '../cluster/spec.js';
import { ConfigError } from '../config/errors.js';
import { expandGrid, type Variant } from '../config/grid.js';
import { readConfigData } from '../config/load.js';
import { applyOverrides } from '../config/overrides.js';
import { parseTrainConfig, type TrainConfig } from '../config/schema.js';
import { fsSafeNames } from '../report/names.js';
import { buildTasks } from './train-tasks.js';

export interface SubmitFlags {
  steps?: string;
  segmentSteps?: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Config file → spec, with every data file uploaded to the store (skipped when the store already has it). */
export async function specFromConfig(configFile: string, flags: SubmitFlags, store: Store, log: (line: string) => void): Promise<ClusterJobSpec> {
  const raw = applyOverrides(readConfigData(configFile), { steps: flags.steps });
  if (flags.segmentSteps !== undefined) raw.segment_steps = /^\s*\d+\s*$/.test(flags.segmentSteps) ? Number(flags.segmentSteps) : flags.segmentSteps;
  const config = parseAt(configFile, raw, dirname(resolve(configFile)));
  raw.name = config.name; // a name defaulted from the file name must survive without the file
  if (config.initFrom) {
    throw new ConfigError('init.from', `hydra submit does not ship pretrained weights to workers yet; train from a seed (remove init) or use hydra train`).withSource(configFile);
  }
  if (config.earlyStopping.kind !== 'none') {
    // Rung decisions need every model's metrics in one job; a worker sees only the segments it holds.
    throw new ConfigError('early_stopping', `hydra submit does not support early stopping yet (got kind '${config.earlyStopping.kind}'); remove it or use hydra train`).withSource(configFile);
  }
  if (config.segmentSteps === undefined) {
    throw new ConfigError('segment_steps', 'required for hydra submit: steps per segment, the unit of work a worker takes (or --segment-steps N)').withSource(configFile);
  }
  const upload = async (path: string): Promise<DataBlob> => {
    const bytes = readFileSync(path);
    const blob = { hash: sha256(bytes), bytes: bytes.length, file: path };
    if (!(await store.exists(dataKey(blob.hash)))) {
      await store.putBytes(dataKey(blob.hash), bytes);
      log(`store: uploaded ${path} (${bytes.length} bytes) as ${dataKey(blob.hash)}`);
    }
    return blob;
  };
  const data = { train: await upload(config.data.train), ...(config.data.eval ? { eval: await upload(config.data.eval) } : {}) };
  const built = buildTasks(config, { log });
  const safe = fsSafeNames(built.tasks.map((t) => t.name));
  return {
    version: 1,
    name: config.name,
    submittedAt: new Date().toISOString(),
    config: raw,
    data,
    segmentSteps: config.segmentSteps,
    models: built.totals.map((t) => ({ name: t.name, safe: safe.get(t.name)!, totalSteps: t.totalSteps })),
  };
}

export interface MaterialiseOptions {
  store: Store;
  /** Local cache: data blobs and tokenised data. */
  cacheDir: string;
  devices: string;
  deviceMemory: string;
  log: (line: string) => void;
}

/** Spec → this machine's tasks, checked against the spec: the same models with the same lengths. */
export async function materialiseSpec(spec: ClusterJobSpec, o: MaterialiseOptions): Promise<LocalJob> {
  const fetchBlob = async (role: string, blob: DataBlob): Promise<string> => {
    // The original file name is kept: the data format 'auto' may look at it.
    const path = join(o.cacheDir, 'data', blob.hash, basename(blob.file));
    if (!existsSync(path) || sha256(readFileSync(path)) !== blob.hash) {
      await mkdir(dirname(path), { recursive: true });
      if (!(await o.store.getFile(dataKey(blob.hash), path))) throw new Error(`job '${spec.name}': data.${role} (${dataKey(blob.hash)}) is missing from the store ${o.store.display}`);
      const got = sha256(readFileSync(path));
      if (got !== blob.hash) {
        throw new Error(`job '${spec.name}': data hash mismatch for data.${role}: the job was submitted with sha256 ${blob.hash} (${blob.file}), the store's copy has sha256 ${got}; resubmit the job or restore ${dataKey(blob.hash)}`);
      }
    }
    return path;
  };
  const data: Record<string, unknown> = { ...(spec.config.data as Record<string, unknown>), train: await fetchBlob('train', spec.data.train) };
  if (spec.data.eval) data.eval = await fetchBlob('eval', spec.data.eval);
  const raw: Record<string, unknown> = { ...spec.config, data, devices: o.devices, device_memory: o.deviceMemory };
  // Where a single machine would write is not the workers' business; plans are cached per worker.
  delete raw.out_dir;
  delete raw.plan_dir;
  const config = parseAt(`job ${spec.name}`, raw, o.cacheDir);
  const built = buildTasks(config, { log: o.log, cacheDir: join(o.cacheDir, 'tokens') });
  const got = built.totals.map((t) => `${t.name}:${t.totalSteps}`).join(' ');
  const want = spec.models.map((m) => `${m.name}:${m.totalSteps}`).join(' ');
  if (got !== want) throw new Error(`job '${spec.name}': this worker builds other models than were submitted (here: ${got}; submitted: ${want}); is this worker running another hydra-dl version?`);
  return { spec, tasks: built.tasks, policy: config.policy, policySeed: config.policySeed, prefetch: config.prefetch, activations: config.activations };
}

/** The job's config and model variants, for results.json (no file is read). */
export function configOfSpec(spec: ClusterJobSpec): { config: TrainConfig; variants: Variant[] } {
  const config = parseTrainConfig(spec.config, { baseDir: '/', source: `job ${spec.name}`, checkFiles: false, cwd: '/' });
  return { config, variants: expandGrid(config) };
}

function parseAt(source: string, raw: unknown, baseDir: string): TrainConfig {
  try {
    return parseTrainConfig(raw, { baseDir, source, defaultName: basename(source).replace(/\.(ya?ml|json)$/i, ''), checkFiles: true });
  } catch (err) {
    if (err instanceof ConfigError) throw err.withSource(source);
    throw err;
  }
}
