/**
 * The fused, row-chunked LM head in the partitioner: the head no longer needs B·T·V logits, so GPT-mini at batch
 * 8×256 (412 MB of logits, 51 MB of head weights) cuts into ≥ 4 shards; and the chunk scratch is accounted exactly —
 * with a head chunked into 5-row pieces, every task's measured device peak on a real backend equals the plan's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { createCpuBackend } from '../../src/backend/cpu.js';
import type { Backend } from '../../src/backend/backend.js';
import { buildGpt2, gpt2Config } from '../../src/nn/gpt2.js';
import { headChunkRows, withHeadChunk } from '../../src/nn/lm-head.js';
import type { Model } from '../../src/nn/model.js';
import { numel } from '../../src/nn/layer.js';
import { initModel } from '../../src/nn/init.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { LayerTooLargeError, partition } from '../../src/hydra/plan/partitioner.js';
import { planFor } from '../../src/hydra/plan/plan-cache.js';
import type { LayerProfile } from '../../src/hydra/plan/pilot.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { runShardTask } from '../../src/hydra/run/shard-executor.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { cpuSkipReason } from '../backend/helpers.js';

const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 1, totalSteps: 2, seed: 1 };

/** Profiles without a pilot: the partitioner's bytes come from dry runs; times do not matter here. */
function profilesOf(model: Model): LayerProfile[] {
  const specs = new Map(model.params.map((p) => [p.name, p]));
  return model.layers.map((l) => ({
    name: l.name,
    shape: l.shapeKey,
    paramBytes: l.uses.reduce((a, u) => a + numel(specs.get(u)!.shape) * 4, 0),
    forwardPeakBytes: 0, backwardPeakBytes: 0, forwardSeconds: 0, backwardSeconds: 0,
  }));
}

for (const tie of [true, false]) {
  test(`fused head: GPT-mini (${tie ? 'tied' : 'untied'}, batch 8×256) cuts into ≥ 4 shards at the smallest budget it fits`, async () => {
    const B = 8, T = 256;
    const model = buildGpt2(gpt2Config('gpt2-mini', { dropout: 0, tie }));
    const req = (budget: number) => ({ model, recipe, B, T, budget, maxBufferBytes: Infinity, profiles: profilesOf(model), key: 'k', backend: 'cpu', hostUpdates: true });
    const refused = await partition(req(1)).then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof LayerTooLargeError && refused.minBudget !== undefined, `a 1-byte budget must be refused with the budget needed, got ${String(refused)}`);
    const budget = refused.minBudget;
    const plan = await partition(req(budget));
    assert.ok(plan.shards.length >= 4, `expected >= 4 shards at ${budget} bytes, got ${plan.shards.map((s) => s.layerNames.join('+')).join(' | ')}`);
    for (const s of plan.shards) assert.ok(Math.max(s.peakBytes.forward, s.peakBytes.train) + plan.reserve <= budget);
    // The head's shard holds its weight and gradient and one chunk of logits — not B·T·V of them.
    const V = 50257, C = 256, N = B * T;
    const head = plan.shards[plan.shards.length - 1];
    const logitsBytes = N * V * 4, scratch = headChunkRows(N, V) * V * 4;
    assert.ok(head.peakBytes.train < logitsBytes / 3, `head shard peak ${head.peakBytes.train} vs ${logitsBytes} bytes of logits`);
    assert.ok(head.peakBytes.train >= 2 * V * C * 4 + scratch, 'the chunk scratch is counted');
  });
}

async function backends(): Promise<{ name: string; make: (budget: number) => Promise<Backend> }[]> {
  const list = [{ name: 'js', make: async (budget: number): Promise<Backend> => new JsBackend({ budget }) }];
  try {
    createCpuBackend({ threads: 1 }).dispose();
    list.push({ name: 'cpu', make: async (budget: number) => createCpuBackend({ threads: 1, budget }) });
  } catch (e) {
    if ((await cpuSkipReason(e)) === null) throw e;
  }
  return list;
}

test('fused head: with 5-row chunks the planned peak of every task equals the measured one (js, cpu)', async () => {
  const config = { n_layer: 4, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 97, dropout: 0.1, tie: true };
  const B = 2, T = 16, N = B * T;
  const model = withHeadChunk(buildGpt2(config), 5 * 97 * 4);
  const tokens = Int32Array.from({ length: N }, (_, i) => (i * 13) % 97);
  const budget = 330_000;
  for (const { name, make } of await backends()) {
    const { plan } = await planFor({ model, recipe, B, T, budget, backendKey: name, maxBufferBytes: Infinity }, () => make(Infinity), tokens, null);
    assert.ok(plan.shards.length >= 3, `${name}: expected >= 3 shards, got ${plan.shards.length}`);
    const rt = buildRuntime(model, plan.shards, recipe, B, T);
    const views = viewsOf(allocateHostState(rt, new HostTier(), 'm'));
    for (const [n, t] of initModel(rt.model, 1)) views.param(n).set(t.data);
    views.tokens().set(tokens);
    views.targets().set(tokens.map((x) => (x % 7 === 0 ? -1 : (x + 1) % 97)));
    const be = await make(budget - plan.reserve);
    const n = plan.shards.length;
    const run = async (kind: 'F' | 'FL' | 'B', k: number) => {
      be.resetHighWater();
      await runShardTask(be, rt, views, { kind, shard: k, step: 0 });
      const predicted = kind === 'F' ? plan.shards[k].peakBytes.forward : plan.shards[k].peakBytes.train;
      assert.equal(be.stats().highWater, predicted, `${name} ${kind}${k}: measured vs planned peak`);
    };
    for (let k = 0; k < n - 1; k++) await run('F', k);
    await run('FL', n - 1);
    for (let k = n - 2; k >= 0; k--) await run('B', k);
    be.dispose();
  }
});
