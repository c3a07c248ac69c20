/**
 * Backends the gold tests run on. js always; cpu when its addon was built (a missing addon on a machine that has a
 * compiler and OpenBLAS is a failure, reported by the conformance suite); webgpu when the optional package loads.
 */
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend, type BackendKind } from '../../src/backend/index.js';

export interface GoldBackend {
  kind: BackendKind;
  /** null when unavailable on this machine (then skipReason says why). */
  create(): Promise<Backend | null>;
  skipReason: string;
}

export function goldBackends(): GoldBackend[] {
  return (['js', 'cpu', 'webgpu'] as BackendKind[]).map((kind) => {
    const entry: GoldBackend = {
      kind,
      skipReason: '',
      async create() {
        try {
          return await createBackend(kind, { threads: 1 });
        } catch (e) {
          if (!(e instanceof BackendUnavailableError)) throw e;
          entry.skipReason = e.message;
          return null;
        }
      },
    };
    return entry;
  });
}
