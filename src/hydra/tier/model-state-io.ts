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
import { STREAM_PIECE, tensorElements, type StreamedTensor, type TensorLike } from '../../io/streamed-tensor.js';

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
 * Set values (and, when `state` gives them, optimizer states) wherever they live. A streamed tensor (a checkpoint
 * being resumed) is read piece by piece: straight into its host-tier array, or through one bounded buffer to disk.
 */
export async function writeModelState(
  rt: ModelRuntime,
  views: HostViews,
  disk: ModelDiskState | undefined,
  value: (name: string) => TensorLike,
  state?: (state: string, name: string) => TensorLike,
): Promise<void> {
  let buf = new Float32Array(0);
  const put = async (n: string, t: TensorLike, st?: string) => {
    if ('data' in t) {
      if (disk) await disk.writeParam(n, t.data, st);
      else (st === undefined ? views.param(n) : views.opt(st, n)).set(t.data);
      return;
    }
    const len = tensorElements(t);
    if (!disk) {
      const dst = st === undefined ? views.param(n) : views.opt(st, n);
      for (let at = 0; at < len; at += STREAM_PIECE) await t.read(dst.subarray(at, Math.min(len, at + STREAM_PIECE)), at);
      return;
    }
    if (buf.length < Math.min(STREAM_PIECE, len)) buf = new Float32Array(Math.min(STREAM_PIECE, len));
    for (let at = 0; at < len; at += STREAM_PIECE) {
      const piece = buf.subarray(0, Math.min(STREAM_PIECE, len - at));
      await t.read(piece, at);
      await disk.writeRange(n, st, piece, at);
    }
  };
  for (const p of rt.params) {
    const n = p.spec.name;
    await put(n, value(n));
    if (!state) continue;
    for (const s of stateNames(rt.recipe.optimizer)) await put(n, state(s, n), s);
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
