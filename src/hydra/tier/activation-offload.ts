/**
 * Whether a job's models offload their activations (TrainOptions.activations = 'offload': run/activation-stash.ts)
 * or recompute them. Offloading is optional memory: it is granted only where the whole job, stashes included, fits
 * the host tier in RAM. A job that already needs the disk tier recomputes instead (a recompute costs one forward; a
 * stash that pushed more state to disk would cost reads and writes on every step).
 */
import { stashBytes } from '../run/activation-stash.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import { formatBytes } from '../units.js';
import type { JobPlacement } from './placement.js';

export type ActivationMode = 'recompute' | 'offload';
export const ACTIVATION_MODES: readonly ActivationMode[] = ['recompute', 'offload'];

/** The mode asked for, checked: a clear error naming the field and what is accepted. */
export function activationMode(raw: unknown, field = 'activations'): ActivationMode {
  if (raw === undefined) return 'recompute';
  if (!ACTIVATION_MODES.includes(raw as ActivationMode)) throw new RangeError(`${field}: expected one of ${ACTIVATION_MODES.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as ActivationMode;
}

/** `p` with each model's stash granted (hostBytes grown by it) when offloading is asked for and fits under `hostCap`. */
export function withActivationOffload(p: JobPlacement, rts: { rt: ModelRuntime }[], hostCap: number, mode: ActivationMode): JobPlacement {
  if (mode !== 'offload') return p;
  const bytes = rts.map(({ rt }) => stashBytes(rt));
  const total = bytes.reduce((a, b) => a + b, 0);
  if (p.diskBytes > 0 || p.hostBytes + total > hostCap) {
    const why = p.diskBytes > 0 ? 'the job already spills to disk' : `all in RAM with them would be ${formatBytes(p.hostBytes + total)}, over the host cap of ${formatBytes(hostCap)}`;
    return { ...p, reasons: [...p.reasons, `activation offload asked for but off: the stashes need ${formatBytes(total)} and ${why}; backward tasks recompute their shard's forward`] };
  }
  return {
    ...p,
    models: p.models.map((m, i) => ({ ...m, stashBytes: bytes[i], hostBytes: m.hostBytes + bytes[i] })),
    hostBytes: p.hostBytes + total,
    reasons: [...p.reasons, `activation offload: each forward task keeps what its shard's backward reads in RAM (${formatBytes(total)} in all), so backward tasks copy it back instead of recomputing`],
  };
}
