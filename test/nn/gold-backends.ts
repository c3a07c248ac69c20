/**
 * Backends the gold tests run on. js always; cpu and webgpu unless they genuinely cannot run here, by the same rules
 * as the conformance suite (test/backend/helpers.ts cpuSkipReason / webgpuSkipReason: the cpu addon skips only when
 * no toolchain was found at install, webgpu only when the optional package or a (software) GPU is absent;
 * HYDRA_REQUIRE_CPU=1 / HYDRA_REQUIRE_WEBGPU=1 turn any unavailability into a failure).
 */
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend, type BackendKind } from '../../src/backend/index.js';
import { cpuSkipReason, webgpuSkipReason } from '../backend/helpers.js';

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
          const reason = await (kind === 'webgpu' ? webgpuSkipReason(e) : cpuSkipReason(e));
          if (reason === null) throw e;
          entry.skipReason = reason;
          return null;
        }
      },
    };
    return entry;
  });
}
