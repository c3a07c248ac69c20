/**
 * Setting up a job for train(): checking the tasks, choosing usable devices, loading initial weights into the host
 * tier, and where each model is evaluated.
 */
import type { HostTensor, WeightSource } from '../../nn/host-tensor.js';
import type { ArchSpec } from '../../nn/family.js';
import { buildArch, loadFamily, resolveArch } from '../../nn/families.js';
import type { Model } from '../../nn/model.js';
import { validateOptimizer } from '../../optim/optimizer.js';
import { validateSchedule } from '../../optim/schedule.js';
import { BackendUnavailableError, createBackend } from '../../backend/index.js';
import type { TrainTask } from '../api.js';
import type { DeviceSpec } from '../run/device-spec.js';
import type { HostViews } from '../tier/host-state.js';
import type { ModelDiskState } from '../tier/disk-state.js';
import { writeModelState } from '../tier/model-state-io.js';
import type { ModelRuntime } from '../run/model-runtime.js';

/**
 * cpu devices need the native addon; where it could not be built (no compiler) the js backend serves instead, with a
 * warning that says what to install — the job still runs, slower. Other kinds are used as asked.
 */
export async function usableDevices(dev: DeviceSpec, warn: (m: string) => void): Promise<DeviceSpec> {
  if (dev.kind !== 'cpu') return dev;
  try {
    (await createBackend('cpu', { threads: dev.threads })).dispose();
    return dev;
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    warn(`warning: ${e.message} — running the ${dev.count} device${dev.count === 1 ? '' : 's'} on the slower js backend instead`);
    return { ...dev, kind: 'js' };
  }
}

/**
 * A model's initial weights into its state: copied from tensors in memory, or read by a WeightSource straight into
 * its host-tier arrays (each parameter's array handed out once, no copy in between). A model with state on disk takes
 * a source's streamed tensors where it has them (WeightSource.stream): piece by piece, never whole in memory.
 */
export async function loadWeights(rt: ModelRuntime, views: HostViews, disk: ModelDiskState | undefined, weights: Map<string, HostTensor> | WeightSource, model: string): Promise<void> {
  if (!(weights instanceof Map) && disk && weights.stream) {
    const source = weights, tensors = await weights.stream();
    for (const name of tensors.keys()) if (!rt.byName.has(name)) throw new Error(`model '${model}': ${source.describe} has a tensor '${name}' the model does not have`);
    for (const p of rt.params) {
      const t = tensors.get(p.spec.name);
      if (!t) throw new Error(`model '${model}': initial weights from ${source.describe} lack parameter '${p.spec.name}'`);
      const n = t.shape.reduce((a, d) => a * d, 1);
      if (n !== p.n) throw new RangeError(`model '${model}': weight '${p.spec.name}' in ${source.describe} has ${n} elements, the model needs ${p.n}`);
    }
    return writeModelState(rt, views, disk, (n) => tensors.get(n)!);
  }
  if (!(weights instanceof Map)) {
    const source = weights;
    const read = new Map<string, HostTensor>();
    await source.read((name, elements) => {
      const p = rt.byName.get(name);
      if (!p) throw new Error(`model '${model}': ${source.describe} has a tensor '${name}' the model does not have`);
      if (elements !== p.n) throw new RangeError(`model '${model}': weight '${name}' in ${source.describe} has ${elements} elements, the model needs ${p.n}`);
      if (read.has(name)) throw new Error(`model '${model}': ${source.describe} gives '${name}' twice`);
      const data = disk ? new Float32Array(elements) : views.param(name);
      read.set(name, { shape: [...p.spec.shape], data });
      return data;
    });
    const missing = rt.params.filter((p) => !read.has(p.spec.name));
    if (missing.length > 0) throw new Error(`model '${model}': initial weights from ${source.describe} lack parameter '${missing[0].spec.name}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
    if (!disk) return;
    weights = read;
  }
  for (const p of rt.params) {
    const w = weights.get(p.spec.name);
    if (!w) throw new Error(`model '${model}': initial weights lack parameter '${p.spec.name}'`);
    if (w.data.length !== p.n) throw new RangeError(`model '${model}': weight '${p.spec.name}' has ${w.data.length} elements, the model needs ${p.n}`);
  }
  await writeModelState(rt, views, disk, (n) => weights.get(n)!);
}

/** Eval after every full epoch, and after the last step if it ends mid-epoch. */
export function evalPoints(task: TrainTask, totalSteps: number): Set<number> {
  const out = new Set<number>();
  if (!task.eval || task.eval.stepsPerEpoch === 0) return out;
  const spe = task.train.stepsPerEpoch;
  for (let s = spe; s <= totalSteps; s += spe) out.add(s - 1);
  out.add(totalSteps - 1);
  return out;
}

/** Each task's model: its spec checked and completed, and the chain built from it (in this thread). */
export interface TaskModel {
  arch: ArchSpec;
  model: Model;
}

/** Check every task; returns each one's model. */
export async function checkTasks(tasks: TrainTask[]): Promise<TaskModel[]> {
  if (tasks.length === 0) throw new RangeError('train: no tasks given');
  const names = new Set<string>();
  const out: TaskModel[] = [];
  for (const [i, t] of tasks.entries()) {
    const where = `tasks[${i}] ('${t.name}')`;
    if (!t.name) throw new RangeError(`tasks[${i}].name: required`);
    if (names.has(t.name)) throw new RangeError(`${where}: duplicate model name`);
    names.add(t.name);
    await loadFamily(t.model, `${where}.model`);
    const arch = resolveArch(t.model, `${where}.model`);
    const model = buildArch(arch);
    out.push({ arch, model });
    validateOptimizer(t.optimizer, `${where}.optimizer`);
    if (t.schedule) validateSchedule(t.schedule, `${where}.schedule`);
    if (t.train.T > model.nCtx) throw new RangeError(`${where}: sequence length ${t.train.T} exceeds the model's context ${model.nCtx}`);
    if (t.train.stepsPerEpoch < 1) throw new RangeError(`${where}.train: no full batch of ${t.train.B}×${t.train.T} tokens in the training data`);
    if (t.steps !== undefined && !(Number.isInteger(t.steps) && t.steps >= 1)) throw new RangeError(`${where}.steps: expected a positive integer, got ${t.steps}`);
    if (t.epochs !== undefined && !(Number.isInteger(t.epochs) && t.epochs >= 1)) throw new RangeError(`${where}.epochs: expected a positive integer, got ${t.epochs}`);
    if (t.stopAtStep !== undefined && !(Number.isInteger(t.stopAtStep) && t.stopAtStep >= 1)) throw new RangeError(`${where}.stopAtStep: expected a positive integer, got ${t.stopAtStep}`);
    if (t.eval && (t.eval.B !== t.train.B || t.eval.T !== t.train.T)) throw new RangeError(`${where}.eval: batch shape must equal the training batch shape`);
  }
  return out;
}
