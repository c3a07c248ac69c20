/**
 * The `webgpu` backend factory: WebGPU through Dawn for Node (the optional npm package `webgpu`), kernels in WGSL.
 * Implementation in ./webgpu/ (device setup, buffer and staging pools, command recording, pipeline cache, one file
 * per kernel family). Headless machines run it on Mesa's llvmpipe through Dawn's OpenGL ES backend.
 */
import type { Backend } from './backend.js';
import type { BackendOptions } from './index.js';
import { WebGpuBackend, type WebGpuBackendSettings } from './webgpu/backend.js';
import { openDevice } from './webgpu/dawn.js';

export { prepareWebGpuEnvironment, WEBGPU_INSTALL_HINT } from './webgpu/dawn.js';
export { WebGpuLimitError } from './webgpu/limits.js';
export { WebGpuBackend } from './webgpu/backend.js';

export interface WebGpuBackendOptions extends BackendOptions, WebGpuBackendSettings {}

/**
 * Opens device `opts.deviceIndex` (default 0; see openDevice for how indices map to adapters) with the adapter's
 * own limits. Throws BackendUnavailableError, saying what to install, when the package or an adapter is missing.
 * Call dispose() when done: it destroys the GPUDevice.
 */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<Backend> {
  const opened = await openDevice(opts.deviceIndex ?? 0);
  try {
    return new WebGpuBackend(opened, { budget: opts.budget, maxBindingBytes: opts.maxBindingBytes, poolBytes: opts.poolBytes });
  } catch (e) {
    opened.device.destroy();
    throw e;
  }
}
