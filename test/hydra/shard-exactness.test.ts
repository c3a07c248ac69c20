/**
 * The core invariant at the executor level: running a model as shard tasks through the host tier gives bitwise the
 * same losses and parameters as training it whole on one device (dropout on, tied embedding, global-norm clipping).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { initModel } from '../../src/nn/init.js';
import { LocalTrainer } from '../../src/optim/local-trainer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { buildRuntime, type ShardRange } from '../../src/hydra/run/model-runtime.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { runShardTask } from '../../src/hydra/run/shard-executor.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';

const config: Gpt2Config = { n_layer: 3, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 23, dropout: 0.2, tie: true };
const B = 2, T = 8;

function batch(step: number): { tokens: Int32Array; targets: Int32Array } {
  const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + step * 3) % 23);
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + step + 1) % 23);
  return { tokens, targets };
}

function recipe(clipNorm: number): TrainRecipe {
  return { optimizer: { ...ADAMW_DEFAULTS, lr: 1e-2 }, schedule: { warmupSteps: 1, decay: 'cosine', minRatio: 0.1 }, clipNorm, totalSteps: 4, seed: 42 };
}

async function trainAlone(r: TrainRecipe, steps: number) {
  const be = new JsBackend();
  const model = buildGpt2(config);
  const t = await LocalTrainer.create(be, model, initModel(model, r.seed), r);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push((await t.trainStep({ ...batch(s), B, T })).loss);
  return { losses, params: await t.exportParams() };
}

async function trainSharded(r: TrainRecipe, steps: number, shards: ShardRange[]) {
  const be = new JsBackend();
  const rt = buildRuntime(buildGpt2(config), shards, r, B, T);
  const tier = new HostTier();
  const views = viewsOf(allocateHostState(rt, tier, 'm'));
  for (const [name, t] of initModel(rt.model, r.seed)) views.param(name).set(t.data);
  const losses: number[] = [];
  const n = shards.length;
  for (let s = 0; s < steps; s++) {
    const b = batch(s);
    views.tokens().set(b.tokens);
    views.targets().set(b.targets);
    for (let k = 0; k < n - 1; k++) await runShardTask(be, rt, views, { kind: 'F', shard: k, step: s });
    const fl = await runShardTask(be, rt, views, { kind: 'FL', shard: n - 1, step: s });
    losses.push(fl.loss!);
    for (let k = n - 2; k >= 0; k--) await runShardTask(be, rt, views, { kind: 'B', shard: k, step: s });
    assert.equal(be.stats().inUse, 0, 'every task frees what it allocated');
  }
  return { losses, params: new Map(rt.params.map((p) => [p.spec.name, views.param(p.spec.name)])) };
}

for (const clip of [0.05, 0]) {
  test(`shard tasks through the host tier are bitwise equal to unsharded training (clip=${clip})`, async () => {
    const r = recipe(clip);
    const alone = await trainAlone(r, 3);
    // embed | h.0 h.1 | h.2 ln_f | lm_head : the tied weight is used by the first and the last shard.
    const sharded = await trainSharded(r, 3, [{ from: 0, to: 1 }, { from: 1, to: 3 }, { from: 3, to: 5 }, { from: 5, to: 6 }]);
    assert.deepEqual(sharded.losses, alone.losses);
    for (const [name, t] of alone.params) {
      assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(sharded.params.get(name)!.buffer, sharded.params.get(name)!.byteOffset, sharded.params.get(name)!.byteLength)), `parameter ${name} differs`);
    }
    const single = await trainSharded(r, 3, [{ from: 0, to: 6 }]);
    assert.deepEqual(single.losses, alone.losses);
  });
}
