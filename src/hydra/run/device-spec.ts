/** Device specs: 'cpu:NxT' (N devices of T threads), 'cpu' (= cpu:1x1), 'js:N', 'webgpu:N'. */
import type { BackendKind } from '../../backend/index.js';

export interface DeviceSpec {
  kind: BackendKind;
  count: number;
  threads: number;
}

export function parseDevices(spec: string, field = 'devices'): DeviceSpec {
  const m = /^(js|cpu|webgpu)(?::(\d+)(?:x(\d+))?)?$/.exec(spec.trim());
  const bad = () =>
    new RangeError(`${field}: expected 'cpu:NxT' (N devices of T threads, e.g. cpu:2x1), 'js:N' or 'webgpu:N', got '${spec}'`);
  if (!m) throw bad();
  const kind = m[1] as BackendKind;
  const count = m[2] ? Number(m[2]) : 1;
  const threads = m[3] ? Number(m[3]) : 1;
  if (count < 1 || threads < 1 || count > 1024 || threads > 256) throw bad();
  if (m[3] && kind !== 'cpu') throw new RangeError(`${field}: only cpu devices take a thread count ('${spec}')`);
  return { kind, count, threads };
}

/** What measured times and bytes depend on: the backend kind and its thread count. */
export function backendKey(d: DeviceSpec): string {
  return d.kind === 'cpu' ? `cpu:${d.threads}t` : d.kind;
}
