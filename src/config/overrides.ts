/**
 * Command-line flags that override fields of the config file (--devices, --device-memory, --host-memory, --policy,
 * --activations, --out, --steps). Each flag is validated under its own name, so a bad flag is not blamed on the file, then merged
 * into the raw document before the document is validated.
 */
import { resolve } from 'node:path';
import { mapping, oneOf, positiveInt } from './checks.js';
import { expected } from './errors.js';
import { parseDeviceSpec } from './schema.js';
import { POLICY_NAMES } from '../hydra/scheduler/types.js';
import { ACTIVATION_MODES } from '../hydra/tier/activation-offload.js';
import { size } from './sizes.js';

export interface CliOverrides {
  devices?: string;
  deviceMemory?: string;
  hostMemory?: string;
  policy?: string;
  activations?: string;
  /** Output directory; relative to the current directory (not the config file's). */
  out?: string;
  steps?: string | number;
}

/** A new raw document with the overrides applied (the input is not modified). */
export function applyOverrides(raw: unknown, o: CliOverrides, cwd = process.cwd()): Record<string, unknown> {
  const doc = { ...mapping(raw, '') };
  if (o.devices !== undefined) doc.devices = parseDeviceSpec(o.devices, '--devices');
  if (o.deviceMemory !== undefined) doc.device_memory = size(o.deviceMemory, '--device-memory');
  if (o.hostMemory !== undefined) doc.host_memory = size(o.hostMemory, '--host-memory');
  if (o.policy !== undefined) doc.policy = oneOf(POLICY_NAMES)(o.policy, '--policy');
  if (o.activations !== undefined) doc.activations = oneOf(ACTIVATION_MODES)(o.activations, '--activations');
  if (o.out !== undefined) {
    if (o.out.trim() === '') throw expected('--out', 'a directory path', o.out);
    doc.out_dir = resolve(cwd, o.out);
  }
  if (o.steps !== undefined) {
    const n = typeof o.steps === 'string' && /^\s*\d+\s*$/.test(o.steps) ? Number(o.steps) : o.steps;
    doc.steps = positiveInt(n, '--steps');
    delete doc.epochs; // --steps replaces the file's training length, whichever form it had
  }
  return doc;
}
