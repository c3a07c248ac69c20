/**
 * Parameter initialisation on the host, from the counter-based generator: element i of parameter P under seed s is
 * a pure function of (s, P's name, i). The same model initialises identically however it is later sharded.
 *
 * `initParam` is the reference (plain JavaScript). `initParamsInto` fills many parameters in place, e.g. straight
 * into the host tier, with the native kernel on several threads off the JavaScript thread when the cpu addon is
 * there; its values equal the reference's bit for bit (native/init-normal.cc says how). Without the addon it runs
 * the reference.
 */
import { availableParallelism } from 'node:os';
import { hashString, keyPrefix, normalAt } from '../backend/rng.js';
import { cpuAddonInfo, loadCpuAddon } from '../backend/native-loader.js';
import type { HostTensor } from './host-tensor.js';
import { numel, type ParamSpec } from './layer.js';
import type { Model } from './model.js';

const PURPOSE_INIT = 100;

function initPrefix(spec: ParamSpec, seed: number): number {
  return keyPrefix({ seed: seed >>> 0, purpose: PURPOSE_INIT, step: 0, layer: hashString(spec.name) });
}

export function initParam(spec: ParamSpec, seed: number, into?: Float32Array): HostTensor {
  const n = numel(spec.shape);
  const data = into ?? new Float32Array(n);
  if (data.length !== n) throw new RangeError(`init ${spec.name}: buffer has ${data.length} elements, shape needs ${n}`);
  const rule = spec.init;
  if (rule.kind === 'zeros') data.fill(0);
  else if (rule.kind === 'ones') data.fill(1);
  else {
    const prefix = initPrefix(spec, seed);
    for (let i = 0; i < n; i++) data[i] = rule.std * normalAt(prefix, i);
  }
  return { shape: [...spec.shape], data };
}

export function initModel(model: Model, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const p of model.params) out.set(p.name, initParam(p, seed));
  return out;
}

export interface InitOptions {
  /** Threads of the native kernel (default: every core the process may use). */
  threads?: number;
  /** 'auto' (default): native when the cpu addon loads, else the reference; 'js': always the reference. */
  engine?: 'auto' | 'js';
}

/** Initialise every parameter of `specs` into the array `into` gives for it. Resolves with the engine used. */
export async function initParamsInto(specs: ParamSpec[], seed: number, into: (spec: ParamSpec) => Float32Array, options: InitOptions = {}): Promise<'native' | 'js'> {
  const threads = options.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1)) throw new RangeError(`init threads: expected a positive integer, got ${threads}`);
  const native = (options.engine ?? 'auto') === 'auto' && cpuAddonInfo().available;
  const jobs: { dst: Float32Array; std: number; prefix: number }[] = [];
  for (const spec of specs) {
    const dst = into(spec);
    if (dst.length !== numel(spec.shape)) throw new RangeError(`init ${spec.name}: buffer has ${dst.length} elements, shape needs ${numel(spec.shape)}`);
    const rule = spec.init;
    if (rule.kind !== 'normal' || !native) initParam(spec, seed, dst);
    else jobs.push({ dst, std: rule.std, prefix: initPrefix(spec, seed) });
  }
  if (!native) return 'js';
  const unsure = await loadCpuAddon().initNormal(jobs, threads);
  // The few elements whose float32 rounding the kernel could not vouch for: the reference decides.
  jobs.forEach((j, k) => {
    for (const i of unsure[k]) j.dst[i] = j.std * normalAt(j.prefix, i);
  });
  return 'native';
}
