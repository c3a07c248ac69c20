/**
 * Backends the gold tests run on. js always; cpu when its addon was built (a missing addon on a machine that has a
 * compiler and OpenBLAS is a failure, reported by the conformance suite); webgpu when it can run here — skipped only
 * when the optional `webgpu` package or a (software) GPU is genuinely absent, by the same rule as the conformance
 * suite (test/backend/helpers.ts webgpuSkipReason; HYDRA_REQUIRE_WEBGPU=1 turns any unavailability into a failure).
 */
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend, type BackendKind } from '../../src/backend/index.js';
import { webgpuSkipReason } from '../backend/helpers.js';

export interface GoldBackend {
  kind: BackendKind;
  /** null when unavailable on this machine (then skipReason says why). Throws when it should have been available. */
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
          if (kind === 'webgpu') {
            const reason = await webgpuSkipReason(e);
            if (reason === null) throw e;
            entry.skipReason = reason;
          } else {
            entry.skipReason = e.message;
          }
          return null;
        }
      },
    };
    return entry;
  });
}
