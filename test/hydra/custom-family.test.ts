/**
 * A model of the user's own — a family registered from their module, with a Layer class of their own, not GPT-2 —
 * trains through train() like any other: cut into shards whose boundaries have different sizes (each layer's
 * outputLength), rebuilt in every device worker from its ArchSpec, interleaved with a GPT-2, and bitwise equal to the
 * same model trained alone and unsharded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { train } from '../../src/hydra/job/train.js';
import { resolveArch } from '../../src/nn/families.js';
import type { TrainTask } from '../../src/hydra/api.js';
import { gradCheckLayer } from '../../src/nn/gradcheck.js';
import { Dense, mlpFamily } from './fixtures/mlp-family.js';
import { sameBits, syntheticSource, tinyTask, trainAlone } from './helpers.js';

const focus: TrainTask = tinyTask('mlp', { model: { family: 'test-mlp', config: { preset: 'small' } }, steps: 4 });

test('a family of the user\'s own resolves its preset and refuses bad fields by name', () => {
  const arch = resolveArch(focus.model);
  assert.deepEqual(arch.config, { vocab: 37, n_ctx: 8, widths: [8, 80, 40, 80, 24] });
  assert.match(arch.module ?? '', /fixtures\/mlp-family\.js$/, 'the registering module travels with the spec');
  assert.throws(() => resolveArch({ family: 'test-mlp', config: { preset: 'small', depth: 3 } }), /model\.config\.depth: not a test-mlp field/);
  assert.throws(() => resolveArch({ family: 'nope', config: {} }), /model\.family: unknown model family 'nope' \(known: gpt2, .*test-mlp/);
  assert.equal(mlpFamily.build(arch.config as never).layers.length, 6);
});

test("the user's Dense layer passes the exported gradient check (and a broken backward would not)", () => {
  const model = mlpFamily.build({ vocab: 37, n_ctx: 8, widths: [8, 24, 12] });
  for (const layer of model.layers.filter((l) => l instanceof Dense)) {
    const r = gradCheckLayer(layer, { params: model.params, B: 2, T: 3, inputLength: model.layers[layer.index - 1].outputLength(2, 3) });
    assert.deepEqual(r.failures, [], layer.name);
  }
  const broken = new Dense('broken', 1, 4, 5, true);
  const backward = broken.backward.bind(broken);
  broken.backward = (ctx, x, dy) => {
    ctx.be.scale(dy, 2); // a backward off by a factor of two
    return backward(ctx, x, dy);
  };
  assert.notDeepEqual(gradCheckLayer(broken, { params: broken.ownParams, B: 2, T: 3, inputLength: 2 * 3 * 4 }).failures, []);
});

test('train(): a user-defined Layer chain, sharded (boundaries of different sizes) on js:2 beside a GPT-2, is bitwise equal to training it alone', async () => {
  const ref = await trainAlone(focus, new JsBackend());
  const other = tinyTask('gpt2', { seed: 2, train: syntheticSource(37, 2, 8, 3, 1) });
  const result = await train([focus, other], { devices: 'js:2', deviceMemory: 90_000, policy: 'round-robin', planDir: null });
  const r = result.models.find((m) => m.name === 'mlp')!;
  for (const m of result.models) assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
  assert.ok(r.plan.shards.length >= 3, `expected >= 3 shards, got ${r.plan.shards.length}`);
  const boundaries = new Set(r.plan.shards.slice(1).map((s) => s.inputBytes));
  assert.ok(boundaries.size >= 2, `the cut should cross boundaries of different sizes: ${[...boundaries]}`);
  assert.deepEqual(r.losses, ref.losses);
  for (const [name, t] of ref.params) assert.ok(sameBits(t.data, r.weights.get(name)!.data), `parameter ${name} differs`);
});
