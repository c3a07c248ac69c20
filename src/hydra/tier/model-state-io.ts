/**
 * A model's whole state read or written wherever each array lives (RAM or the disk tier): initial values, weights
 * given by the user, a checkpoint restored, a checkpoint taken, the final weights. Arrays in RAM are used in place
 * (or copied when asked); a model with state on disk is streamed (`streamModelState`: read piece by piece as a file
 * is written), so a checkpoint or the final weights of a model larger than RAM never sit whole in memory.
 */
import { initParamsInto } from '../../nn/init.js';
import { stateNames } from '../../optim/optimizer.js';
import type { ModelRuntime } from '../run/model-runtime.js';
import type { ModelDiskState } from './disk-state.js';
import type { HostViews } from './host-state.js';
import type { StreamedTensor } from '../../io/streamed-tensor.js';

/** Initial values of every parameter (in RAM through the views, on disk shard by shard through a slot). */
export async function initModelParams(rt: ModelRuntime, views: HostViews, disk: ModelDiskState | undefined, seed: number): Promise<'native' | 'js'> {
  const inRam = rt.params.filter((p) => !disk || disk.placement.home.get(p.spec.name) !== 'disk');
  const engine = await initParamsInto(inRam.map((p) => p.spec), seed, (spec) => views.param(spec.name));
  await disk?.initParams(seed);
  return engine;
}

/**
 * Every parameter's value and (unless `valuesOnly`) optimizer state (`stateName.param`) read; `copy`: RAM arrays are
 * copied too.
 */
export async function readModelState(rt: ModelRuntime, views: HostViews, disk: ModelDiskState | undefined, copy: boolean, valuesOnly = false): Promise<{ params: Map<string, Float32Array>; opt: Map<string, Float32Array> }> {
  const params = new Map<string, Float32Array>(), opt = new Map<string, Float32Array>();
  const take = (a: Float32Array) => (copy ? Float32Array.from(a) : a);
  for (const p of rt.params) {
    const n = p.spec.name;
    params.set(n, disk ? await disk.readParam(n) : take(views.param(n)));
    if (!valuesOnly) for (const s of stateNames(rt.recipe.optimizer)) opt.set(`${s}.${n}`, disk ? await disk.readParam(n, s) : take(views.opt(s, n)));
  }
  return { params, opt };
}

/**
 * Set values (and, when `opt` gives them, optimizer states) wherever they live. `check` validates each array
 * against the parameter first (a checkpoint or weights of another shape are refused naming the tensor).
 */
export async function writeModelState(
  rt: ModelRuntime,
  views: HostViews,
  disk: ModelDiskState | undefined,
  value: (name: string) => Float32Array,
  state?: (state: string, name: string) => Float32Array,
): Promise<void> {
  for (const p of rt.params) {
    const n = p.spec.name;
    if (disk) await disk.writeParam(n, value(n));
    else views.param(n).set(value(n));
    if (!state) continue;
    for (const s of stateNames(rt.recipe.optimizer)) {
      if (disk) await disk.writeParam(n, state(s, n), s);
      else views.opt(s, n).set(state(s, n));
    }
  }
}

/**
 * Every parameter's value and (unless `valuesOnly`) optimizer state (`stateName.param`) as streamed tensors, read
 * piece by piece from the disk tier or the host tier when written out. The model must not train meanwhile: its
 * next task waits for the write (ModelJob.busyUntil).
 */
export function streamModelState(rt: ModelRuntime, disk: ModelDiskState, valuesOnly = false): { params: Map<string, StreamedTensor>; opt: Map<string, StreamedTensor> } {
  const params = new Map<string, StreamedTensor>(), opt = new Map<string, StreamedTensor>();
  for (const p of rt.params) {
    const n = p.spec.name, shape = [...p.spec.shape];
    params.set(n, { shape, read: (dst, offset) => disk.readRange(n, undefined, dst, offset) });
    if (!valuesOnly) for (const s of stateNames(rt.recipe.optimizer)) opt.set(`${s}.${n}`, { shape, read: (dst, offset) => disk.readRange(n, s, dst, offset) });
  }
  return { params, opt };
}
