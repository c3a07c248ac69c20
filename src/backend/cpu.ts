// Placeholder: the native cpu backend is being written (issue 2). Until then choosing 'cpu' says so.
import type { Backend } from './backend.js';
import { BackendUnavailableError, type BackendOptions } from './index.js';
export function createCpuBackend(_opts: BackendOptions): Backend {
  throw new BackendUnavailableError('cpu', 'cpu backend not built yet');
}
