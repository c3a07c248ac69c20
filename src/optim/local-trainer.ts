/**
 * Training one model on one device with everything resident: the plain reference path (and the "alone, unsharded"
 * run the Hydra exactness test compares against). Step order, which Hydra's shard executor reproduces exactly:
 *   zero grads → forward all layers (the last, the fused LM head + loss, also takes its gradients) → backward all layers →
 *   per-parameter squared norms (canonical order) → global norm → clip scale → per-parameter update.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';
import { backwardRange, forwardRange } from '../nn/chain.js';
import type { HostTensor } from '../nn/host-tensor.js';
import { numel, type DeviceParams, type RunContext } from '../nn/layer.js';
import { lmHeadOf } from '../nn/lm-head.js';
import { lossTargets, meanLoss } from '../nn/loss.js';
import type { Model } from '../nn/model.js';
import { clipScale, globalNorm } from './clip.js';
import { applyUpdate, stateNames } from './optimizer.js';
import { recipeLr, type TrainRecipe } from './recipe.js';

export interface Batch {
  tokens: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
}

interface Slot {
  n: number;
  value: DeviceBuffer;
  grad: DeviceBuffer;
  state: DeviceBuffer[];
  decay: boolean;
}

export class LocalTrainer {
  /** Optimizer steps taken so far (the next step's 0-based index). */
  step = 0;
  private readonly slots = new Map<string, Slot>();

  private constructor(
    readonly be: Backend,
    readonly model: Model,
    readonly recipe: TrainRecipe,
  ) {}

  static async create(be: Backend, model: Model, weights: Map<string, HostTensor>, recipe: TrainRecipe): Promise<LocalTrainer> {
    const t = new LocalTrainer(be, model, recipe);
    const names = stateNames(recipe.optimizer);
    for (const p of model.params) {
      const w = weights.get(p.name);
      const n = numel(p.shape);
      if (!w) throw new Error(`weights: missing parameter '${p.name}'`);
      if (w.data.length !== n) throw new RangeError(`weights: '${p.name}' has ${w.data.length} elements, the model needs ${n} (shape ${p.shape.join('x')})`);
      const value = be.alloc(n);
      await be.upload(value, w.data);
      const grad = be.alloc(n);
      const state = names.map(() => {
        const s = be.alloc(n);
        be.fill(s, 0);
        return s;
      });
      t.slots.set(p.name, { n, value, grad, state, decay: p.decay });
    }
    return t;
  }

  private deviceParams(): DeviceParams {
    const get = (name: string): Slot => {
      const s = this.slots.get(name);
      if (!s) throw new Error(`no parameter '${name}' on the device`);
      return s;
    };
    return { value: (n) => get(n).value, grad: (n) => get(n).grad };
  }

  private context(B: number, T: number, training: boolean, keepForBackward: boolean): RunContext {
    return { be: this.be, params: this.deviceParams(), B, T, training, keepForBackward, seed: this.recipe.seed, step: this.step, saved: new Map() };
  }

  private async uploadBatch(b: Batch): Promise<{ tokens: DeviceBuffer; targets: DeviceBuffer }> {
    const tokens = this.be.alloc(b.B * b.T, 'i32');
    const targets = this.be.alloc(b.B * b.T, 'i32');
    await this.be.upload(tokens, b.tokens);
    await this.be.upload(targets, b.targets);
    return { tokens, targets };
  }

  /** Zeroed gradients, then one forward and backward: the loss; the gradients are left in the slots. */
  private async forwardBackward(b: Batch, training: boolean): Promise<number> {
    const { be, model } = this;
    for (const s of this.slots.values()) be.fill(s.grad, 0);
    const { tokens, targets } = await this.uploadBatch(b);
    const ctx: RunContext = { ...this.context(b.B, b.T, training, true), loss: lossTargets(targets, b.targets) };
    const fwd = forwardRange(ctx, model.layers, 0, model.layers.length, tokens);
    const { loss } = await meanLoss(be, fwd.output, b.targets);
    backwardRange(ctx, model.layers, 0, model.layers.length, fwd, fwd.output);
    be.free(fwd.output);
    be.free(tokens);
    be.free(targets);
    return loss;
  }

  /** Forward, backward and one optimizer step. */
  async trainStep(b: Batch, training = true): Promise<StepResult> {
    const { be, model } = this;
    const loss = await this.forwardBackward(b, training);

    const norms = be.alloc(model.params.length);
    model.params.forEach((p, i) => {
      const s = this.slots.get(p.name)!;
      be.sumSquares(norms, i, s.grad, s.n);
    });
    const sq = await be.download(norms, new Float32Array(model.params.length));
    be.free(norms);
    const gradNorm = globalNorm(sq);
    const gradScale = clipScale(gradNorm, this.recipe.clipNorm);
    const lr = recipeLr(this.recipe, this.step);
    for (const p of model.params) {
      const s = this.slots.get(p.name)!;
      applyUpdate(be, this.recipe.optimizer, s.value, s.grad, s.state, s.n, { lr, t: this.step + 1, gradScale, decay: s.decay });
    }
    this.step++;
    return { loss, gradNorm, lr };
  }

  /** Mean loss on a batch without dropout and without touching parameters. */
  async evalLoss(b: Batch): Promise<{ loss: number; count: number }> {
    const { be, model } = this;
    const { tokens, targets } = await this.uploadBatch(b);
    const ctx: RunContext = { ...this.context(b.B, b.T, false, false), loss: lossTargets(targets, b.targets) };
    const fwd = forwardRange(ctx, model.layers, 0, model.layers.length, tokens);
    try {
      return await meanLoss(be, fwd.output, b.targets);
    } finally {
      for (const buf of [fwd.output, tokens, targets]) be.free(buf);
    }
  }

  /** Logits of a batch, unfused (tests and generation): the layers before the head, then the head's plain GEMM. */
  async logits(b: Batch): Promise<Float32Array> {
    const { be, model } = this;
    const tokens = be.alloc(b.B * b.T, 'i32');
    await be.upload(tokens, b.tokens);
    const ctx = this.context(b.B, b.T, false, false);
    const fwd = forwardRange(ctx, model.layers, 0, model.layers.length - 1, tokens);
    const out = lmHeadOf(model).logits(ctx, fwd.output);
    try {
      return await be.download(out, new Float32Array(out.length));
    } finally {
      for (const buf of new Set([out, fwd.output, tokens])) be.free(buf);
    }
  }

  /** Gradients of one forward/backward without stepping (tests). */
  async gradients(b: Batch, training = false): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const loss = await this.forwardBackward(b, training);
    const grads = new Map<string, Float32Array>();
    for (const [name, s] of this.slots) grads.set(name, await this.be.download(s.grad, new Float32Array(s.n)));
    return { loss, grads };
  }

  async exportParams(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const p of this.model.params) {
      const s = this.slots.get(p.name)!;
      out.set(p.name, { shape: [...p.shape], data: await this.be.download(s.value, new Float32Array(s.n)) });
    }
    return out;
  }

  /** Optimizer state tensors by `<state>.<param>` name (checkpoints). */
  async exportOptimizerState(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    const names = stateNames(this.recipe.optimizer);
    for (const p of this.model.params) {
      const s = this.slots.get(p.name)!;
      for (let i = 0; i < names.length; i++) out.set(`${names[i]}.${p.name}`, { shape: [...p.shape], data: await this.be.download(s.state[i], new Float32Array(s.n)) });
    }
    return out;
  }

  async importOptimizerState(state: Map<string, HostTensor>, step: number): Promise<void> {
    const names = stateNames(this.recipe.optimizer);
    for (const p of this.model.params) {
      const s = this.slots.get(p.name)!;
      for (let i = 0; i < names.length; i++) {
        const t = state.get(`${names[i]}.${p.name}`);
        if (!t) throw new Error(`optimizer state: missing '${names[i]}.${p.name}'`);
        await this.be.upload(s.state[i], t.data);
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      this.be.free(s.value);
      this.be.free(s.grad);
      for (const x of s.state) this.be.free(x);
    }
    this.slots.clear();
  }
}
