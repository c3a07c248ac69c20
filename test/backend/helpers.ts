/**
 * Shared by the backend tests: the list of backends the conformance suite runs over, seeded random data, a harness
 * that runs one kernel on a backend and downloads its outputs, and float32-aware comparison.
 */
import type { Backend, DeviceBuffer } from '../../src/backend/backend.js';
import { BackendUnavailableError } from '../../src/backend/index.js';
import { hashAt, keyPrefix } from '../../src/backend/rng.js';
import { JsBackend } from '../../src/backend/js.js';

// ---- backends under test ----

export interface BackendEntry {
  /** Label used in test names, e.g. 'cpu(threads=2)'. */
  label: string;
  kind: 'cpu' | 'webgpu';
  /** A fresh backend; may be async. Throws (ideally BackendUnavailableError) when it cannot run here. */
  create(opts?: { budget?: number }): Promise<Backend>;
  /**
   * Given the error creation threw: the reason to list the backend as skipped, or null when this machine was
   * expected to run it (then the suite reports a failing test instead of skipping).
   */
  skipReason(err: unknown): Promise<string | null>;
}

/**
 * Every backend the conformance suite compares with js. cpu runs with 1 and 2 threads (2 exercises every split).
 * To add a backend (e.g. webgpu), append an entry; its skipReason decides whether "unavailable" is a skip or a failure.
 */
export function conformanceBackends(): BackendEntry[] {
  const cpu = (threads: number): BackendEntry => ({
    label: `cpu(threads=${threads})`,
    kind: 'cpu',
    async create(opts = {}) {
      const { createCpuBackend } = await import('../../src/backend/cpu.js');
      return createCpuBackend({ threads, budget: opts.budget });
    },
    skipReason: cpuSkipReason,
  });
  const webgpu: BackendEntry = {
    label: 'webgpu',
    kind: 'webgpu',
    async create(opts = {}) {
      const { createWebGpuBackend } = await import('../../src/backend/webgpu.js');
      return createWebGpuBackend({ budget: opts.budget });
    },
    skipReason: webgpuSkipReason,
  };
  return [cpu(1), cpu(2), webgpu];
}

/**
 * The cpu addon may be missing only when the install script found no toolchain (and said so in
 * build/hydra-native.json). A missing build, or a failed build with a toolchain present, is a failure; with
 * HYDRA_REQUIRE_CPU=1 (CI) any unavailability is.
 */
export async function cpuSkipReason(err: unknown): Promise<string | null> {
  if (process.env.HYDRA_REQUIRE_CPU === '1') return null;
  if (!(err instanceof BackendUnavailableError)) return null;
  const { readBuildStatus } = await import('../../src/backend/native-loader.js');
  const status = readBuildStatus();
  if (status && !status.ok && status.toolchainMissing) return `cpu addon not built on this machine: ${status.reason ?? 'no toolchain'}`;
  return null;
}

/**
 * webgpu may be skipped only when it genuinely cannot run here: the optional `webgpu` package is not installed, or no
 * adapter was found on a machine without a software GPU (Linux: Mesa's EGL + llvmpipe driver absent). With the
 * package and Mesa installed (CI, after .ci/run), or with HYDRA_REQUIRE_WEBGPU=1, a missing backend is a failure.
 */
export async function webgpuSkipReason(err: unknown): Promise<string | null> {
  if (process.env.HYDRA_REQUIRE_WEBGPU === '1') return null;
  if (!(err instanceof BackendUnavailableError)) return null;
  const { createRequire } = await import('node:module');
  try {
    createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return `optional package 'webgpu' not installed (npm install webgpu): ${err.message}`;
  }
  if (process.platform === 'linux' && !(await hasMesaLlvmpipe())) {
    return `no GPU adapter and no Mesa llvmpipe (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri): ${err.message}`;
  }
  if (process.platform !== 'linux') return `no WebGPU adapter on this machine: ${err.message}`;
  return null;
}

/** Mesa's EGL and the llvmpipe (swrast) DRI driver are installed: the software GPU Dawn's OpenGL ES backend can use. */
async function hasMesaLlvmpipe(): Promise<boolean> {
  const { existsSync, readFileSync } = await import('node:fs');
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const lib = (name: string) => {
    try {
      if (readFileSync('/etc/ld.so.cache').includes(name)) return true;
    } catch { /* no cache */ }
    return dirs.some((d) => existsSync(`${d}/${name}`));
  };
  const dri = dirs.some((d) => existsSync(`${d}/dri/swrast_dri.so`) || existsSync(`${d}/dri/llvmpipe_dri.so`)) || lib('libgallium');
  return lib('libEGL_mesa.so.0') && dri;
}

// ---- seeded random data (counter-based, so every run and every backend sees the same numbers) ----

export class Rand {
  private readonly prefix: number;
  private i = 0;
  constructor(seed: number) {
    this.prefix = keyPrefix({ seed, purpose: 0x7e57, step: 0, layer: 0 });
  }
  /** Uniform in [0, 1). */
  next(): number {
    return (hashAt(this.prefix, this.i++) >>> 8) / 16777216;
  }
  uniform(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) out[k] = lo + (hi - lo) * this.next();
    return out;
  }
  ints(n: number, lo: number, hiExclusive: number): Int32Array {
    const out = new Int32Array(n);
    for (let k = 0; k < n; k++) out[k] = lo + Math.floor((hiExclusive - lo) * this.next());
    return out;
  }
}

// ---- harness ----

export type HostArray = Float32Array | Int32Array;
export type Buffers = Record<string, DeviceBuffer>;

/**
 * Uploads `inputs` (buffers named like the inputs; an Int32Array becomes an i32 buffer), runs `op`, downloads the
 * buffers named in `outputs`, frees everything. Every output must also be an input (kernels write into given buffers).
 */
export async function runKernel(
  be: Backend,
  inputs: Record<string, HostArray>,
  op: (be: Backend, b: Buffers) => void,
  outputs: string[],
): Promise<Record<string, HostArray>> {
  const bufs: Buffers = {};
  try {
    for (const [name, data] of Object.entries(inputs)) {
      bufs[name] = be.alloc(data.length, data instanceof Int32Array ? 'i32' : 'f32');
      await be.upload(bufs[name], data);
    }
    op(be, bufs);
    const out: Record<string, HostArray> = {};
    for (const name of outputs) out[name] = await be.download(bufs[name]);
    return out;
  } finally {
    for (const b of Object.values(bufs)) be.free(b);
  }
}

// ---- comparison ----

export interface Closeness {
  /** max over elements of |a - e| / max(|e|, floor), floor = 1e-3 * max|e| (so values near 0 count absolutely). */
  maxRel: number;
  maxAbs: number;
  worst: number;
}

export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>): Closeness {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = Math.max(1e-3 * scale, 1e-30);
  let maxRel = 0, maxAbs = 0, worst = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Object.is(a, e) || a === e) continue;
    if (Number.isNaN(a) || Number.isNaN(e) || !Number.isFinite(a) || !Number.isFinite(e)) return { maxRel: Infinity, maxAbs: Infinity, worst: i };
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), floor);
    if (rel > maxRel) (maxRel = rel), (worst = i);
    maxAbs = Math.max(maxAbs, abs);
  }
  return { maxRel, maxAbs, worst };
}

/** Throws unless actual ≈ expected within `tol` (relative, see closeness); returns the max relative error. */
export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): number {
  const c = closeness(actual, expected);
  if (!(c.maxRel <= tol)) {
    const i = c.worst;
    throw new Error(
      `${what}: max relative error ${c.maxRel.toExponential(3)} > ${tol} at [${i}]: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
  return c.maxRel;
}

/** Throws unless the arrays are identical bit for bit (NaN payloads aside); names the first difference. */
export function assertBitwise(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}: differs at [${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Largest relative error seen per kernel and backend, printed at the end of the conformance run. */
export const errorReport = new Map<string, number>();
export function recordError(key: string, err: number): void {
  errorReport.set(key, Math.max(errorReport.get(key) ?? 0, err));
}

/** Runs op on js and on `be` with the same inputs; compares `outputs` exactly or within tol. Returns max rel error. */
export async function vsJs(
  be: Backend, what: string, inputs: Record<string, HostArray>, op: (be: Backend, b: Buffers) => void, outputs: string[], tol: number | 'exact',
): Promise<number> {
  const want = await runKernel(jsOracle, inputs, op, outputs);
  const got = await runKernel(be, inputs, op, outputs);
  let worst = 0;
  for (const o of outputs) {
    if (tol === 'exact') assertBitwise(`${what} ${o}`, got[o], want[o]);
    else worst = Math.max(worst, assertClose(`${what} ${o}`, got[o], want[o], tol));
  }
  return worst;
}
const jsOracle = new JsBackend();

/** max |a - b| / max |b|: relative error of the whole tensor, robust to entries near zero. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`relError: lengths ${a.length} and ${b.length} differ`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}
