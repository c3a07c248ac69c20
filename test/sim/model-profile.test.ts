/**
 * The simulator's profiles are the real partitioner's plans: for GPT-2 and Llama shapes, a profile's cuts, parameter
 * bytes, boundary bytes and peaks equal the plan a job makes with a real pilot pass on a real backend, and its
 * seconds come from the FLOPs the layers' matrix products ask for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { planFor } from '../../src/hydra/plan/plan-cache.js';
import { buildArch } from '../../src/nn/families.js';
import type { ArchSpec } from '../../src/nn/family.js';
import { modelPlan, modelShards, PROFILE_RECIPE } from '../../src/sim/model-profile.js';
import { gradInBytes, simShards } from '../../src/sim/from-plans.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import type { PartitionPlan } from '../../src/hydra/api.js';

const cases: { name: string; arch: ArchSpec; B: number; T: number }[] = [
  { name: 'gpt2 tied', arch: { family: 'gpt2', config: { n_layer: 4, n_head: 2, n_embd: 32, n_ctx: 16, vocab_size: 97, dropout: 0.1, tie: true } }, B: 2, T: 16 },
  { name: 'gpt2 untied', arch: { family: 'gpt2', config: { n_layer: 3, n_head: 4, n_embd: 48, n_ctx: 32, vocab_size: 131, dropout: 0, tie: false } }, B: 3, T: 24 },
  { name: 'llama GQA tied', arch: { family: 'llama', config: { n_layer: 4, n_head: 4, n_kv_head: 2, n_embd: 32, intermediate_size: 64, n_ctx: 16, vocab_size: 97, tie: true } }, B: 2, T: 16 },
  { name: 'llama untied', arch: { family: 'llama', config: { n_layer: 3, n_head: 2, n_kv_head: 1, n_embd: 32, intermediate_size: 80, n_ctx: 32, vocab_size: 113, tie: false } }, B: 2, T: 32 },
];

/** The plan a job makes: the real pilot pass on the js backend, then the partitioner. */
async function realPlan(arch: ArchSpec, B: number, T: number, budget: number): Promise<PartitionPlan> {
  const model = buildArch(arch);
  const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % model.vocab);
  const inputs = { model, recipe: PROFILE_RECIPE, B, T, budget, backendKey: 'js', maxBufferBytes: Infinity };
  return (await planFor(inputs, async () => new JsBackend(), tokens, null)).plan;
}

const cuts = (p: PartitionPlan) => p.shards.map((s) => ({ from: s.from, to: s.to, paramBytes: s.paramBytes, inputBytes: s.inputBytes, peakBytes: s.peakBytes }));
const bytesOnly = (shards: ReturnType<typeof simShards>) => shards.map((s) => ({ paramBytes: s.paramBytes, peakBytes: s.peakBytes, taskBytes: s.taskBytes }));

for (const c of cases) {
  test(`sim profile (${c.name}): the shards are the real plan's — cuts, parameter and boundary bytes, peaks`, async () => {
    // A budget that cuts the model into several shards: a third of what it needs whole, at least its largest layer.
    const whole = await modelPlan({ arch: c.arch, B: c.B, T: c.T, deviceMemory: 2 ** 40 });
    const needWhole = whole.shards[0].peakBytes.train + whole.reserve;
    let budget = Math.round(needWhole / 3);
    let profile: PartitionPlan | undefined;
    for (; !profile; budget = Math.round(budget * 1.1)) {
      profile = await modelPlan({ arch: c.arch, B: c.B, T: c.T, deviceMemory: budget }).catch(() => undefined);
    }
    budget = profile.budget;
    const real = await realPlan(c.arch, c.B, c.T, budget);
    assert.ok(real.shards.length >= 2, `${c.name}: ${real.shards.length} shard(s) at ${budget} bytes`);
    assert.deepEqual(cuts(profile), cuts(real));
    assert.equal(profile.reserve, real.reserve);
    const sim = await modelShards({ arch: c.arch, B: c.B, T: c.T, deviceMemory: budget });
    const rt = buildRuntime(buildArch(c.arch), real.shards, PROFILE_RECIPE, c.B, c.T);
    assert.deepEqual(bytesOnly(sim), bytesOnly(simShards(real, { gradInBytes: gradInBytes(rt) })));
    // Seconds from the FLOP clock: a shard costs what its matrix products do (an embedding alone: nothing).
    for (const s of profile.shards) {
      const products = s.layerNames.some((n) => n !== 'embed');
      assert.equal(s.seconds.forward > 0, products, `${c.name}: shard ${s.layerNames.join(',')}: ${s.seconds.forward} s forward`);
    }
  });
}

test('sim profile: the FLOP clock prices a GPT-2 block at 24·B·T·d² + 4·B·T²·d forward and twice that backward', async () => {
  const d = 64, B = 2, T = 32, tflops = 1;
  const arch: ArchSpec = { family: 'gpt2', config: { n_layer: 2, n_head: 4, n_embd: d, n_ctx: T, vocab_size: 50, dropout: 0, tie: true } };
  const whole = await modelPlan({ arch, B, T, deviceMemory: 2 ** 40, tflops });
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * b, `${what}: ${a} vs ${b}`);
  const block = 24 * B * T * d * d + 4 * B * T * T * d;
  const head = 3 * 2 * B * T * 50 * d; // the head's forward also takes its gradients: 3 products of B·T·V·d
  near(whole.shards[0].seconds.forward * tflops * 1e12, 2 * block + head, 'forward');
  near(whole.shards[0].seconds.backward * tflops * 1e12, 2 * 2 * block, 'backward');
});

test('sim profile: plans are cached per (architecture, batch shape, budget, throughput), errors name the field', async () => {
  const arch: ArchSpec = { family: 'llama', config: { preset: 'llama-tiny' } };
  const a = modelPlan({ arch, B: 1, T: 16, deviceMemory: 2 ** 30 });
  assert.equal(modelPlan({ arch: { family: 'llama', config: { preset: 'llama-tiny' } }, B: 1, T: 16, deviceMemory: 2 ** 30 }), a);
  assert.notEqual(modelPlan({ arch, B: 2, T: 16, deviceMemory: 2 ** 30 }), a);
  await assert.rejects(modelPlan({ arch, B: 1, T: 65, deviceMemory: 2 ** 30 }), /T: 65 tokens is longer than .*context of 64/);
  assert.throws(() => modelPlan({ arch, B: 0, T: 16, deviceMemory: 2 ** 30 }), /B: expected a positive integer, got 0/);
  assert.throws(() => modelPlan({ arch: { family: 'bert', config: {} }, B: 1, T: 16, deviceMemory: 2 ** 30 }), /unknown model family 'bert'/);
  await assert.rejects(modelPlan({ arch, B: 1, T: 16, deviceMemory: 2 ** 20 }), /cannot fit the device even alone/);
});
