/**
 * DESIGN §2 exactness for the Llama family: a Llama (grouped-query attention, tied head) cut into ≥ 3 shards and
 * interleaved in one job with two GPT-2s of other shapes, on js:2 and on cpu:2x1, under every policy, ends with
 * bitwise the losses and parameters of each model trained alone, unsharded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import type { Backend } from '../../src/backend/backend.js';
import { BackendUnavailableError, createBackend } from '../../src/backend/index.js';
import { train } from '../../src/hydra/job/train.js';
import type { PolicyName, TrainTask } from '../../src/hydra/api.js';
import { gpt2Arch } from '../../src/nn/gpt2.js';
import { llamaArch } from '../../src/nn/llama.js';
import { TINY, tinyTask, trainAlone, sameBits } from './helpers.js';

const tasks: TrainTask[] = [
  tinyTask('llama', { steps: 3, model: llamaArch('llama-tiny', { n_layer: 4, n_head: 4, n_kv_head: 2, n_embd: 24, intermediate_size: 48, n_ctx: 8, vocab_size: 37 }) }),
  tinyTask('gpt2-a', { seed: 1, steps: 2, model: gpt2Arch({ ...TINY, n_layer: 1, n_head: 4 }) }),
  tinyTask('gpt2-b', { seed: 2, steps: 2, clipNorm: 0, model: gpt2Arch({ ...TINY, n_layer: 2, n_embd: 8, tie: false }) }),
];
const POLICIES: PolicyName[] = ['sharded-lrtf', 'round-robin', 'random', 'model-lrtf', 'pipeline'];
const BUDGET = 120_000;

type Alone = Awaited<ReturnType<typeof trainAlone>>;

async function aloneOn(be: Backend): Promise<Map<string, Alone>> {
  const out = new Map<string, Alone>();
  for (const t of tasks) out.set(t.name, await trainAlone(t, be));
  be.dispose();
  return out;
}

async function check(devices: string, policy: PolicyName, alone: Map<string, Alone>): Promise<void> {
  const result = await train(tasks, { devices, deviceMemory: BUDGET, policy, policySeed: 5, planDir: null });
  for (const m of result.models) {
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    const ref = alone.get(m.name)!;
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    for (const [name, t] of ref.params) assert.ok(sameBits(t.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  const llama = result.models.find((m) => m.name === 'llama')!;
  assert.ok(llama.plan.shards.length >= 3, `expected the Llama in >= 3 shards, got ${llama.plan.shards.length}`);
  for (const d of result.devices) assert.ok(d.highWater <= d.budget, `device ${d.id} high water ${d.highWater} > budget ${d.budget}`);
}

const onJs = aloneOn(new JsBackend());
for (const policy of POLICIES) {
  test(`train(): a sharded Llama among two GPT-2s on js:2 under ${policy} is bitwise equal to each alone`, async () => check('js:2', policy, await onJs));
}

let onCpu: Promise<Map<string, Alone>> | undefined;
for (const policy of POLICIES) {
  test(`train(): a sharded Llama among two GPT-2s on cpu:2x1 under ${policy} is bitwise equal to each alone on cpu`, async (t) => {
    try {
      onCpu ??= createBackend('cpu', { threads: 1 }).then(aloneOn);
      await check('cpu:2x1', policy, await onCpu);
    } catch (e) {
      if (e instanceof BackendUnavailableError) return t.skip(e.message);
      throw e;
    }
  });
}
