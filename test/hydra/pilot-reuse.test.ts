/**
 * Set-up cost proportional to what is distinct: the pilot measures one of each layer shape and the partitioner
 * dry-runs one of each run of shapes, and neither changes the plan. Plans from shared measurements equal plans from
 * measuring every layer (same cuts, same peaks), and every shard candidate's dry run depends only on its run key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import type { Gpt2Config } from '../../src/nn/gpt2-config.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';
import { layerRunKey, partition, shardPeak } from '../../src/hydra/plan/partitioner.js';
import { pilotLayers, type LayerProfile } from '../../src/hydra/plan/pilot.js';

const config: Gpt2Config = { n_layer: 6, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 97, dropout: 0.1, tie: true };
const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 1, totalSteps: 2, seed: 1 };
const B = 2, T = 16;
const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 13) % 97);

async function pilot(reuse: boolean): Promise<{ profiles: LayerProfile[]; measured: string[] }> {
  const measured: string[] = [];
  const profiles = await pilotLayers(new JsBackend(), buildGpt2(config), tokens, B, T, 1, { reuse, onLayer: (l) => measured.push(l.name) });
  return { profiles, measured };
}

const bytesOf = (p: LayerProfile) => ({ name: p.name, paramBytes: p.paramBytes, fwd: p.forwardPeakBytes, bwd: p.backwardPeakBytes });

test('pilot: identical blocks are measured once and every layer gets the bytes measuring it alone gives', async () => {
  const shared = await pilot(true), every = await pilot(false);
  assert.deepEqual(shared.measured, ['embed', 'h.0', 'ln_f', 'lm_head']);
  assert.equal(every.measured.length, config.n_layer + 3);
  assert.deepEqual(shared.profiles.map(bytesOf), every.profiles.map(bytesOf));
  assert.ok(every.profiles.every((p) => p.shape === undefined));
  assert.deepEqual(new Set(shared.profiles.slice(1, 1 + config.n_layer).map((p) => p.shape)).size, 1);
});

test('partitioner: plans from shared measurements equal plans from measuring every layer (cuts, peaks, reserve)', async () => {
  const shared = (await pilot(true)).profiles, every = (await pilot(false)).profiles;
  const model = buildGpt2(config);
  const comparable = (plan: Awaited<ReturnType<typeof partition>>) => ({
    reserve: plan.reserve,
    shards: plan.shards.map((s) => ({ from: s.from, to: s.to, names: s.layerNames, paramBytes: s.paramBytes, inputBytes: s.inputBytes, peaks: s.peakBytes })),
  });
  const counts = new Set<number>();
  for (const budget of [330_000, 420_000, 600_000, 2_000_000]) {
    const req = { model, recipe, B, T, budget, maxBufferBytes: Infinity, key: 'k', backend: 'js', hostUpdates: true };
    const a = await partition({ ...req, profiles: shared }), b = await partition({ ...req, profiles: every });
    assert.deepEqual(comparable(a), comparable(b), `budget ${budget}`);
    counts.add(a.shards.length);
  }
  assert.ok(counts.size >= 3, `the budgets should give different cuts, got shard counts ${[...counts]}`);
  assert.equal(model.layers.length, shared.length);
});

test('partitioner: shard candidates with the same layer run key have the same dry-run peaks (host and device updates)', async () => {
  const profiles = (await pilot(true)).profiles;
  const model = buildGpt2(config);
  const n = profiles.length;
  const byKey = new Map<string, { peak: unknown; at: string }>();
  let shared = 0;
  for (const hostUpdates of [true, false]) {
  for (let from = 0; from < n; from++) {
    for (let to = from + 1; to <= n; to++) {
      const peak = await shardPeak(model, recipe, B, T, from, to, hostUpdates);
      const key = `${hostUpdates}|${layerRunKey(profiles, from, to)}`;
      const seen = byKey.get(key);
      if (seen) {
        shared++;
        assert.deepEqual(peak, seen.peak, `[${from}, ${to}) vs ${seen.at} (key ${key})`);
      } else byKey.set(key, { peak, at: `[${from}, ${to})` });
    }
  }
  }
  assert.ok(shared > 0 && byKey.size < n * (n + 1));
});
