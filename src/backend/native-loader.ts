/**
 * Finds and loads the native cpu addon (build/Release/hydra_cpu.node, built at install time by
 * scripts/build-native.mjs), and reports why when it cannot. Loaded once per thread (worker_threads each get their
 * own instance of the module; Node-API addons are context-aware).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What to do when the addon is missing: shown in errors and test skips. */
export const CPU_INSTALL_HINT =
  'install a compiler and OpenBLAS (apt-get install g++ make python3 libopenblas-dev), then build the addon with ' +
  '`node scripts/build-native.mjs` in the hydra-dl directory (npm runs it on install)';

/** One backend instance inside the addon; ids stand for device buffers. Argument orders follow native/device*.cc. */
export interface NativeCpuDevice {
  alloc(length: number, dtype: 0 | 1): number;
  free(id: number): void;
  /** Resolves with the copy's own duration in seconds. */
  upload(id: number, src: Float32Array | Int32Array, dstOffset: number): Promise<number>;
  download(id: number, dst: Float32Array | Int32Array, srcOffset: number, length: number): Promise<void>;
  dispose(): void;
  liveBuffers(): number;
  /**
   * The buffer table's memory: bytes live and cached (freed, kept for the next buffer of the same size), the
   * high-water mark of live bytes (live + cached never exceeds it), how many allocations reused cached memory, the
   * arena's size (0 without one) and how many allocations it served.
   */
  memoryStats(): { liveBytes: number; cachedBytes: number; liveHighWater: number; reused: number; allocated: number; arenaBytes: number; arenaServed: number };
  fill(x: number, value: number, n: number, offset: number): void;
  copy(dst: number, src: number, n: number, dstOffset: number, srcOffset: number): void;
  scale(x: number, alpha: number, n: number): void;
  add(out: number, a: number, b: number, n: number): void;
  axpy(y: number, x: number, alpha: number, n: number): void;
  sumSquares(out: number, outIndex: number, x: number, n: number): void;
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: number, lda: number,
    B: number, ldb: number, beta: number, C: number, ldc: number, offA: number, offB: number, offC: number,
  ): void;
  gemmBatched(
    batch: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: number, lda: number, strideA: number, B: number, ldb: number, strideB: number,
    beta: number, C: number, ldc: number, strideC: number,
  ): void;
  addBias(out: number, bias: number, rows: number, cols: number): void;
  biasBackward(dbias: number, dout: number, rows: number, cols: number): void;
  embeddingForward(out: number, tokens: number, wte: number, wpe: number | null, B: number, T: number, C: number): void;
  embeddingBackward(dwte: number, dwpe: number | null, dout: number, tokens: number, B: number, T: number, C: number): void;
  layernormForward(out: number, mean: number, rstd: number, x: number, w: number, b: number, N: number, C: number): void;
  layernormBackward(
    dx: number, dw: number, db: number, dout: number, x: number, w: number, mean: number, rstd: number, N: number, C: number,
  ): void;
  geluForward(out: number, x: number, n: number): void;
  rmsnormForward(out: number, rstd: number, x: number, w: number, N: number, C: number, eps: number): void;
  rmsnormBackward(dx: number, dw: number, dout: number, x: number, w: number, rstd: number, N: number, C: number): void;
  ropeTable(cs: number, T: number, hs: number, theta: number): void;
  ropeForward(out: number, x: number, cs: number, B: number, T: number, NH: number, hs: number): void;
  ropeBackward(dx: number, dout: number, cs: number, B: number, T: number, NH: number, hs: number): void;
  swigluForward(out: number, gate: number, up: number, n: number): void;
  swigluBackward(dgate: number, dup: number, gate: number, up: number, dout: number, n: number): void;
  geluBackward(dx: number, x: number, dout: number, n: number): void;
  splitHeads(q: number, k: number, v: number, qkv: number, B: number, T: number, NH: number, hs: number): void;
  splitHeadsBackward(dqkv: number, dq: number, dk: number, dv: number, B: number, T: number, NH: number, hs: number): void;
  mergeHeads(out: number, y: number, B: number, T: number, NH: number, hs: number): void;
  mergeHeadsBackward(dy: number, dout: number, B: number, T: number, NH: number, hs: number): void;
  causalSoftmaxForward(att: number, rows: number, T: number, scale: number): void;
  causalSoftmaxBackward(datt: number, att: number, rows: number, T: number, scale: number): void;
  dropoutForward(out: number, x: number, n: number, p: number, keyPrefix: number): void;
  dropoutBackward(dx: number, dout: number, n: number, p: number, keyPrefix: number): void;
  crossEntropyForward(losses: number, lse: number, logits: number, targets: number, N: number, V: number): void;
  crossEntropyBackward(dlogits: number, logits: number, lse: number, targets: number, N: number, V: number, gradScale: number): void;
  adamw(
    param: number, grad: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, gradScale: number, biasCorrection1: number, biasCorrection2: number,
  ): void;
  sgd(
    param: number, grad: number, momentumBuf: number | null, n: number, lr: number, momentum: number,
    weightDecay: number, nesterov: boolean, gradScale: number,
  ): void;
  adamwHost(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, gradScale: number, biasCorrection1: number, biasCorrection2: number,
  ): void;
  sgdHost(
    param: Float32Array, grad: Float32Array, momentumBuf: Float32Array | null, n: number, lr: number, momentum: number,
    weightDecay: number, nesterov: boolean, gradScale: number,
  ): void;
}

export interface NativeCpuAddon {
  /**
   * `arenaBytes`: the device budget. Buffers then come from one region of that size, best fit, reused for any mix of
   * sizes (native/arena.h); without it (or if the system refuses the reservation) the table allocates per buffer.
   */
  CpuDevice: new (threads: number, arenaBytes?: number) => NativeCpuDevice;
  measureSgemmGflops(n: number, threads: number): number;
  /**
   * Writes std × normalAt(prefix, i) into each dst on `threads` threads off the JavaScript thread; resolves, per job,
   * with the indices the caller must recompute with the reference (native/init-normal.cc says why).
   */
  initNormal(jobs: { dst: Float32Array; std: number; prefix: number }[], threads: number): Promise<Uint32Array[]>;
  /** log(1 - u) and cos(2πu) as initNormal computes them (for the test that compares them with Math.log/Math.cos). */
  normalLogCos(u: Float64Array, logOut: Float64Array, cosOut: Float64Array): void;
  blas: 'openblas' | 'builtin';
  /** A read-write fd opened with O_DIRECT; throws an Error with `code` (EINVAL where the file system refuses it). */
  directOpen(path: string): number;
  directClose(fd: number): void;
  /** Reads into or writes `bytes` at `fileOffset` (any alignment) on libuv's pool; rejects with `code` (ENOSPC, ...). */
  directTransfer(fd: number, bytes: Uint8Array, fileOffset: number, write: boolean): Promise<void>;
  /** The address of the array's first byte modulo 4096 (0: whole blocks from there go straight to the disk). */
  directAddressMod(bytes: Uint8Array): number;
  /** Asks for transparent huge pages on the whole 2 MiB pages inside the array (before its first touch); bytes covered. */
  adviseHugePages(bytes: Uint8Array): number;
  /** Bytes directTransfer moved straight and through its bounce buffer since the process started. */
  directStats(): { direct: number; bounced: number };
}

/** What scripts/build-native.mjs recorded about the last build (build/hydra-native.json). */
export interface NativeBuildStatus {
  ok: boolean;
  blas?: 'openblas' | 'builtin';
  /** Why the build was skipped or failed (missing compiler, node-gyp error, ...). */
  reason?: string;
  /** True when the build was not attempted because a compiler, make or python3 is missing (not a build error). */
  toolchainMissing?: boolean;
  at?: string;
}

export type CpuAddonInfo =
  | { available: true; blas: 'openblas' | 'builtin'; path: string }
  | { available: false; reason: string; path: string; build: NativeBuildStatus | null };

const ADDON_FILE = join('build', 'Release', 'hydra_cpu.node');
const STATUS_FILE = join('build', 'hydra-native.json');

/** The hydra-dl package root: the nearest ancestor of this module that has a package.json (src/ or dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`hydra-dl: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function readBuildStatus(): NativeBuildStatus | null {
  const file = join(packageRoot(), STATUS_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as NativeBuildStatus;
  } catch {
    return null;
  }
}

let loaded: { addon: NativeCpuAddon; path: string } | { error: string; path: string } | undefined;

function load(): { addon: NativeCpuAddon; path: string } | { error: string; path: string } {
  if (loaded) return loaded;
  // HYDRA_CPU_ADDON points at another build of the addon (a custom build; tests use it to simulate a missing one).
  const path = process.env.HYDRA_CPU_ADDON || join(packageRoot(), ADDON_FILE);
  if (!existsSync(path)) {
    const status = readBuildStatus();
    const why = !status
      ? 'it was never built'
      : !status.ok
        ? `the last build did not produce it: ${status.reason ?? 'unknown reason'}`
        : 'nothing at that path';
    loaded = { error: `the native cpu addon ${path} is missing (${why})`, path };
    return loaded;
  }
  // OpenBLAS sizes its own thread pool from this variable when the library is loaded; backends parallelise gemm
  // themselves, so that pool would only sit idle. Set it for the load only (child processes keep the user's value);
  // the addon also calls openblas_set_num_threads(1), which covers loads in worker threads (their env is a copy).
  const previous = process.env.OPENBLAS_NUM_THREADS;
  process.env.OPENBLAS_NUM_THREADS = '1';
  try {
    const require = createRequire(import.meta.url);
    loaded = { addon: require(path) as NativeCpuAddon, path };
  } catch (e) {
    loaded = { error: `the native cpu addon ${path} failed to load: ${(e as Error).message}`, path };
  } finally {
    if (previous === undefined) delete process.env.OPENBLAS_NUM_THREADS;
    else process.env.OPENBLAS_NUM_THREADS = previous;
  }
  return loaded;
}

/** The loaded addon, or null with the reason. */
export function cpuAddonInfo(): CpuAddonInfo {
  const r = load();
  if ('addon' in r) return { available: true, blas: r.addon.blas, path: r.path };
  return { available: false, reason: r.error, path: r.path, build: readBuildStatus() };
}

/** The addon, or null where it is missing (callers that have a plain fallback: no huge pages, no direct I/O alignment). */
export function optionalCpuAddon(): NativeCpuAddon | null {
  const r = load();
  return 'addon' in r ? r.addon : null;
}

/** The addon; throws an Error whose message says what is missing and how to install it. */
export function loadCpuAddon(): NativeCpuAddon {
  const r = load();
  if ('addon' in r) return r.addon;
  throw new Error(`${r.error}. To use the cpu backend, ${CPU_INSTALL_HINT}; until then the js backend works everywhere.`);
}
