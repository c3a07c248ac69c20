import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../src/backend/js.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { planFor, formatPlan } from '../../src/hydra/plan/plan-cache.js';
import { LayerTooLargeError } from '../../src/hydra/plan/partitioner.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { runShardTask } from '../../src/hydra/run/shard-executor.js';
import { initModel } from '../../src/nn/init.js';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/index.js';
import type { PartitionPlan } from '../../src/hydra/api.js';
import { webgpuSkipReason } from '../backend/helpers.js';

const config: Gpt2Config = { n_layer: 4, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 97, dropout: 0.1, tie: true };
const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 1, totalSteps: 2, seed: 1 };
const B = 2, T = 16;
const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 13) % 97);
const inputs = (budget: number) => ({ model: buildGpt2(config), recipe, B, T, budget, backendKey: 'js', maxBufferBytes: Infinity });

/**
 * Run every task of two steps on a device with exactly the plan's budget less its reserve; the measured peak of each
 * task must equal the plan's prediction (exact accounting). On webgpu the bytes are device bytes: size classes and
 * kernel scratch, which the plan counts through the backend's DeviceBytes.
 */
async function runPlan(plan: PartitionPlan, be: Backend): Promise<void> {
  const rt = buildRuntime(buildGpt2(config), plan.shards, recipe, B, T);
  const views = viewsOf(allocateHostState(rt, new HostTier(), 'm'));
  for (const [n, t] of initModel(rt.model, 1)) views.param(n).set(t.data);
  views.tokens().set(tokens);
  views.targets().set(tokens.map((x) => (x + 1) % 97));
  const n = plan.shards.length;
  for (let step = 0; step < 2; step++) {
    const run = async (kind: 'F' | 'FL' | 'B' | 'E', k: number) => {
      be.resetHighWater();
      await runShardTask(be, rt, views, { kind, shard: k, step });
      const peak = be.stats().highWater;
      const predicted = kind === 'FL' || kind === 'B' ? plan.shards[k].peakBytes.train : plan.shards[k].peakBytes.forward;
      if (kind !== 'E') assert.equal(peak, predicted, `${kind}${k}: measured peak ${peak} vs planned ${predicted}`);
      else assert.ok(peak <= predicted);
    };
    for (let k = 0; k < n - 1; k++) await run('F', k);
    await run('FL', n - 1);
    for (let k = n - 2; k >= 0; k--) await run('B', k);
    for (let k = 0; k < n; k++) await run('E', k);
  }
}

test('partitioner: a small budget forces several shards and the plan never exceeds the budget at run time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-plan-'));
  const budget = 330_000;
  const { plan, reused } = await planFor(inputs(budget), async () => new JsBackend(), tokens, dir);
  assert.equal(reused, false);
  assert.ok(plan.shards.length >= 3, `expected >= 3 shards, got ${plan.shards.length}\n${formatPlan(plan)}`);
  for (const s of plan.shards) assert.ok(Math.max(s.peakBytes.forward, s.peakBytes.train) + plan.reserve <= budget);
  await runPlan(plan, new JsBackend({ budget: budget - plan.reserve }));

  const again = await planFor(inputs(budget), async () => { throw new Error('no pilot pass expected when the plan is cached'); }, tokens, dir);
  assert.equal(again.reused, true);
  assert.deepEqual(again.plan.shards.map((s) => [s.from, s.to]), plan.shards.map((s) => [s.from, s.to]));
});

test('partitioner on webgpu: planned peaks are the device bytes the webgpu allocator really takes (size classes, scratch)', async (t) => {
  const open = async (budget?: number): Promise<Backend | string> => {
    try {
      return await createBackend('webgpu', { budget });
    } catch (e) {
      const reason = await webgpuSkipReason(e);
      if (reason === null) throw e;
      return reason;
    }
  };
  const probe = await open();
  if (typeof probe === 'string') return t.skip(probe);
  probe.dispose();
  const budget = 330_000;
  const { plan } = await planFor({ ...inputs(budget), backendKey: 'webgpu' }, async () => (await open()) as Backend, tokens, null);
  assert.ok(plan.shards.length >= 2, `expected >= 2 shards, got ${plan.shards.length}\n${formatPlan(plan)}`);
  const be = (await open(budget - plan.reserve)) as Backend;
  try {
    await runPlan(plan, be);
  } finally {
    be.dispose();
  }
});

test('partitioner: a layer that cannot fit alone is refused with the layer, bytes, budget and what to change', async () => {
  await assert.rejects(
    () => planFor(inputs(50_000), async () => new JsBackend(), tokens, null),
    (e: unknown) => {
      assert.ok(e instanceof LayerTooLargeError);
      assert.match(e.message, /layer '(embed|lm_head|h\.\d)' cannot fit the device even alone/);
      assert.match(e.message, /budget is 48\.8 KiB \(50000 bytes\)/);
      assert.match(e.message, /smaller batch \(task\.train\.B\) or sequence length \(task\.train\.T\), or a larger deviceMemory/);
      return true;
    },
  );
});

// A model whose LM head (untied, large vocabulary: big logits, big weight) is its largest layer.
const headHeavy: Gpt2Config = { n_layer: 6, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 2000, dropout: 0, tie: false };

for (const [label, cfg] of [['blocks largest', config], ['LM head largest', headHeavy]] as const) {
  test(`partitioner (${label}): every budget from the refusal's "at least" figure upward gets a plan that fits`, async () => {
    // Growing the prefetch reserve to the largest shard's parameters used to make a layer that fitted stop fitting,
    // so a budget the error message had just recommended was refused again.
    const req = (budget: number) => ({ ...inputs(budget), model: buildGpt2(cfg) });
    const toks = tokens.map((x) => x % cfg.vocab_size);
    let min = 0;
    await planFor(req(50_000), async () => new JsBackend(), toks, null).then(
      () => assert.fail('50 000 bytes should be too small'),
      (e: unknown) => {
        assert.ok(e instanceof LayerTooLargeError && e.minBudget !== undefined);
        min = e.minBudget;
      },
    );
    const shardCounts = new Set<number>();
    for (let budget = min; budget <= min * 3; budget += Math.ceil(min / 20)) {
      const { plan } = await planFor(req(budget), async () => new JsBackend(), toks, null);
      shardCounts.add(plan.shards.length);
      for (const s of plan.shards) {
        assert.ok(Math.max(s.peakBytes.forward, s.peakBytes.train) + plan.reserve <= budget, `budget ${budget}: shard ${s.from}-${s.to} overflows`);
        assert.ok(s.paramBytes <= plan.reserve, `budget ${budget}: shard ${s.from}-${s.to} params exceed the prefetch reserve`);
      }
    }
    assert.ok(shardCounts.size >= 2, `the sweep should cross several shard counts, saw ${[...shardCounts]}`);
  });
}
