/**
 * Opening a GPUDevice through Dawn for Node (the optional npm package `webgpu`).
 *
 * Order of attempts (override with env HYDRA_WEBGPU_BACKEND, a comma-separated list such as 'vulkan' or
 * 'native,opengles'): the platform's native backend (Vulkan / Metal / D3D12) with core features, then the same in
 * compatibility mode, then Dawn's OpenGL ES backend in compatibility mode — which is how a machine without a GPU runs
 * (Mesa llvmpipe through EGL's surfaceless platform, no display needed).
 *
 * Every device is created with the adapter's own limits: the WebGPU defaults are lower (compatibility mode allows
 * only 4 storage buffers per shader stage by default; llvmpipe offers 16, and a 2 GiB maxBufferSize instead of 256 MiB).
 */
/// <reference types="@webgpu/types" />
import { existsSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { BackendUnavailableError } from '../index.js';

export const WEBGPU_INSTALL_HINT =
  'install the optional package with `npm install webgpu`; headless on Linux (no GPU) also ' +
  '`apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri` (Mesa llvmpipe through OpenGL ES)';

/** What a backend needs to know about the device it got. */
export interface OpenedDevice {
  device: GPUDevice;
  /** Short adapter name, e.g. 'llvmpipe' or 'NVIDIA GeForce RTX 3060'. */
  adapterName: string;
  /** Which Dawn backend served it: 'native' (platform default) or an explicit one such as 'opengles'. */
  dawnBackend: string;
  featureLevel: 'core' | 'compatibility';
  /** A software rasteriser (llvmpipe, lavapipe, SwiftShader): its "device memory" is host memory. */
  software: boolean;
  /** Size of the largest device-local memory heap when the adapter reports heaps, else undefined. */
  heapBytes?: number;
}

type DawnModule = { create(options: string[]): GPU; globals: Record<string, unknown> };

let dawnModule: Promise<DawnModule> | null = null;
/** One Dawn instance per option set per thread; they are cheap to keep and slow (100+ ms) to make. */
const instances = new Map<string, GPU>();

async function loadDawn(): Promise<DawnModule> {
  dawnModule ??= (async () => {
    const name = 'webgpu'; // a variable, so TypeScript does not require the optional package to compile
    try {
      const mod = (await import(name)) as DawnModule;
      // GPUBufferUsage, GPUMapMode etc. are read from globalThis by this backend.
      Object.assign(globalThis, mod.globals);
      return mod;
    } catch (e) {
      dawnModule = null;
      throw new BackendUnavailableError('webgpu', `webgpu backend unavailable: cannot load the 'webgpu' package (${(e as Error).message}); ${WEBGPU_INSTALL_HINT}`);
    }
  })();
  return dawnModule;
}

/**
 * Mesa's EGL needs EGL_PLATFORM=surfaceless to work without a display. It must be in the real process environment
 * (what C's getenv sees): in the main thread assigning process.env does that; in a worker thread process.env is a
 * private copy, so the process that starts webgpu workers must call this first (or export it in the shell).
 */
export function prepareWebGpuEnvironment(): void {
  if (process.platform === 'linux' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
}

/** The list of Dawn backends to try, from HYDRA_WEBGPU_BACKEND or the default order. */
export function backendOrder(env = process.env.HYDRA_WEBGPU_BACKEND): string[] {
  if (env && env.trim()) {
    const list = env.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const known = ['native', 'vulkan', 'metal', 'd3d12', 'd3d11', 'opengles', 'opengl', 'null'];
    for (const b of list) {
      if (!known.includes(b)) throw new RangeError(`HYDRA_WEBGPU_BACKEND: unknown backend '${b}' (accepted: ${known.join(', ')})`);
    }
    return list;
  }
  // Without libvulkan Dawn's default instance only prints a warning and finds nothing: skip it on such Linux boxes.
  return process.platform === 'linux' && !hasVulkanLoader() ? ['opengles'] : ['native', 'opengles'];
}

function hasVulkanLoader(): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => existsSync(`${d}/libvulkan.so.1`))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/lib/aarch64-linux-gnu'].some((d) => existsSync(`${d}/libvulkan.so.1`));
  }
}

async function instance(dawnBackend: string): Promise<GPU> {
  const mod = await loadDawn();
  let gpu = instances.get(dawnBackend);
  if (!gpu) {
    gpu = mod.create(dawnBackend === 'native' ? [] : [`backend=${dawnBackend}`]);
    instances.set(dawnBackend, gpu);
  }
  return gpu;
}

/** Distinct adapters of one Dawn backend (by power preference), best feature level first. */
async function adapters(gpu: GPU, dawnBackend: string): Promise<{ adapter: GPUAdapter; featureLevel: 'core' | 'compatibility' }[]> {
  const levels: ('core' | 'compatibility')[] = dawnBackend === 'opengles' || dawnBackend === 'opengl' ? ['compatibility'] : ['core', 'compatibility'];
  for (const featureLevel of levels) {
    const found: GPUAdapter[] = [];
    for (const powerPreference of ['high-performance', 'low-power'] as const) {
      const a = await gpu.requestAdapter({ featureLevel, powerPreference } as GPURequestAdapterOptions);
      if (a && !found.some((f) => f.info.device === a.info.device && f.info.description === a.info.description)) found.push(a);
    }
    if (found.length) return found.map((adapter) => ({ adapter, featureLevel }));
  }
  return [];
}

/** A fresh adapter object equal to `like` (an adapter can create only one device). */
async function freshAdapter(gpu: GPU, like: GPUAdapter, featureLevel: string): Promise<GPUAdapter | null> {
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    const a = await gpu.requestAdapter({ featureLevel, powerPreference } as GPURequestAdapterOptions);
    if (a && a.info.device === like.info.device && a.info.description === like.info.description) return a;
  }
  return null;
}

/**
 * Opens device number `deviceIndex`: adapters are numbered in discovery order, and indices beyond the number of
 * adapters wrap around (several GPUDevices on one adapter — how tests get 'webgpu:2' on a one-GPU machine).
 */
export async function openDevice(deviceIndex: number): Promise<OpenedDevice> {
  if (!Number.isInteger(deviceIndex) || deviceIndex < 0) throw new RangeError(`deviceIndex must be a non-negative integer, got ${deviceIndex}`);
  const envWasSet = !!process.env.EGL_PLATFORM;
  prepareWebGpuEnvironment();
  const order = backendOrder();
  const tried: string[] = [];
  for (const dawnBackend of order) {
    const gpu = await instance(dawnBackend);
    const found = await adapters(gpu, dawnBackend);
    tried.push(`${dawnBackend}: ${found.length} adapter(s)`);
    if (!found.length) continue;
    const pick = found[deviceIndex % found.length];
    const adapter = (await freshAdapter(gpu, pick.adapter, pick.featureLevel)) ?? pick.adapter;
    const requiredLimits: Record<string, number> = {};
    // Ask for everything the adapter offers: the defaults would cap bindings, workgroup memory and buffer counts.
    for (const key in adapter.limits) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') requiredLimits[key] = v;
    }
    const requiredFeatures = [...adapter.features].filter((f) => f === 'adapter-properties-memory-heaps') as unknown as GPUFeatureName[];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    return {
      device,
      adapterName: shortName(adapter.info),
      dawnBackend,
      featureLevel: pick.featureLevel,
      software: /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${adapter.info.device} ${adapter.info.description}`),
      heapBytes: largestHeap(adapter.info),
    };
  }
  const workerHint =
    !isMainThread && !envWasSet && process.platform === 'linux'
      ? ' (this is a worker thread and EGL_PLATFORM was not set in the process environment: call prepareWebGpuEnvironment() ' +
        'from src/backend/webgpu/dawn.ts in the main thread before starting workers, or export EGL_PLATFORM=surfaceless)'
      : '';
  throw new BackendUnavailableError('webgpu', `webgpu backend unavailable: no adapter found (tried ${tried.join('; ')})${workerHint}; ${WEBGPU_INSTALL_HINT}`);
}

function shortName(info: GPUAdapterInfo): string {
  const text = `${info.device} ${info.description}`;
  for (const soft of ['llvmpipe', 'lavapipe', 'SwiftShader', 'softpipe']) if (text.toLowerCase().includes(soft.toLowerCase())) return soft;
  return (info.device || info.description || info.vendor || 'unknown adapter').replace(/[-\s]+$/, '');
}

function largestHeap(info: GPUAdapterInfo): number | undefined {
  const heaps = (info as unknown as { memoryHeaps?: { size: number; properties: number }[] }).memoryHeaps;
  if (!heaps?.length) return undefined;
  const DEVICE_LOCAL = 1; // GPUHeapProperty.DEVICE_LOCAL in Dawn's memory-heaps feature
  const local = heaps.filter((h) => h.properties & DEVICE_LOCAL);
  return Math.max(...(local.length ? local : heaps).map((h) => Number(h.size)));
}
