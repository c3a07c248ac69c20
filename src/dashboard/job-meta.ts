/**
 * job.json: what a job is, written into its run directory when it starts — its name, devices, budget, and every
 * model with its hyper-parameters and length. Events name models but do not carry these, and a running job has no
 * results.json yet: `hydra dashboard RUN_DIR` and the report read this file for the table's columns and the ETAs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../data/atomic-write.js';

export interface JobMeta {
  format: 'hydra-job';
  name: string;
  devices: string;
  /** Per-device budget, bytes. */
  deviceMemory: number;
  /** The host tier's budget, bytes (absent: no cap). */
  hostMemory?: number;
  policy: string;
  models: { name: string; hparams: Record<string, string | number | boolean>; totalSteps: number }[];
}

export const JOB_META_FILE = 'job.json';

export function writeJobMeta(runDir: string, meta: JobMeta): void {
  writeFileAtomicSync(join(runDir, JOB_META_FILE), [Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)]);
}

/** The job's description: job.json, or (for runs older than it) what results.json says; undefined when neither. */
export function readJobMeta(runDir: string): JobMeta | undefined {
  const metaFile = join(runDir, JOB_META_FILE);
  if (existsSync(metaFile)) return JSON.parse(readFileSync(metaFile, 'utf8')) as JobMeta;
  const resultsFile = join(runDir, 'results.json');
  if (!existsSync(resultsFile)) return undefined;
  const r = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
    name: string; policy: string; config?: { devices?: string; deviceMemory?: number };
    models: { name: string; hparams: JobMeta['models'][number]['hparams']; steps: number }[];
  };
  return {
    format: 'hydra-job', name: r.name, policy: r.policy, devices: r.config?.devices ?? '?', deviceMemory: r.config?.deviceMemory ?? 0,
    models: r.models.map((m) => ({ name: m.name, hparams: m.hparams, totalSteps: m.steps })),
  };
}
