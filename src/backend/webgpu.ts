// Placeholder: the webgpu backend is being written (issue 6).
import type { Backend } from './backend.js';
import { BackendUnavailableError, type BackendOptions } from './index.js';
export async function createWebGpuBackend(_opts: BackendOptions): Promise<Backend> {
  throw new BackendUnavailableError('webgpu', 'webgpu backend not built yet');
}
