/**
 * Backend factory. Each implementation lives in its own module and is loaded on demand, so a machine without the
 * native addon or the optional `webgpu` package can still use the others.
 *
 * Contract for implementation modules:
 *   ./cpu.js    export function createCpuBackend(opts: BackendOptions): Backend    (throws BackendUnavailableError)
 *   ./webgpu.js export async function createWebGpuBackend(opts: BackendOptions): Promise<Backend>  (same)
 */
import type { Backend } from './backend.js';
import { JsBackend } from './js.js';

export type BackendKind = 'js' | 'cpu' | 'webgpu';

export interface BackendOptions {
  /** Device budget in bytes; default unbounded (or the adapter's limit for webgpu). */
  budget?: number;
  /** Threads for the cpu backend (default 1). */
  threads?: number;
  /** webgpu: which adapter/device index to open (default 0). */
  deviceIndex?: number;
}

/** A backend that cannot run on this machine; the message says what to install. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly kind: BackendKind,
    message: string,
  ) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

export async function createBackend(kind: BackendKind, opts: BackendOptions = {}): Promise<Backend> {
  switch (kind) {
    case 'js':
      return new JsBackend({ budget: opts.budget });
    case 'cpu': {
      const mod = await import('./cpu.js');
      return mod.createCpuBackend(opts);
    }
    case 'webgpu': {
      const mod = await import('./webgpu.js');
      return mod.createWebGpuBackend(opts);
    }
    default:
      throw new BackendUnavailableError(kind, `unknown backend '${String(kind)}' (accepted: js, cpu, webgpu)`);
  }
}

export type { Backend } from './backend.js';

/**
 * The cpu backend when it was built, else the js backend with a warning that says what to install. Other kinds are
 * created as asked (a user who asks for webgpu wants to know it is missing).
 */
export async function createBackendOrFallback(kind: BackendKind, opts: BackendOptions = {}, warn: (m: string) => void = console.warn): Promise<Backend> {
  try {
    return await createBackend(kind, opts);
  } catch (e) {
    if (kind !== 'cpu' || !(e instanceof BackendUnavailableError)) throw e;
    warn(`warning: ${e.message} — using the slower js backend instead`);
    return createBackend('js', opts);
  }
}
