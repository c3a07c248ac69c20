/**
 * Locality-aware Sharded-LRTF with many more models than devices (the `large` preset's regime, scaled down to run in
 * a second): copies counted, it must not lose to model-lrtf by more than 0.1 % (which keeps each model on one device and so copies
 * least), its prefetch hints must mostly come true (a wrong hint costs a serial copy), and its models still finish
 * together — no wider apart than plain LRTF's without copies, plus one task and one copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashUniform, simulate } from '../../src/sim/engine.js';
import { arch, DEFAULT_BANDWIDTH, devicesOf, presetModel } from '../../src/sim/presets.js';
import type { SimModel, Workload } from '../../src/sim/types.js';

async function manyModels(n: number, devices: number): Promise<Workload> {
  const shapes = ['gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
  const batches = [4, 8, 16];
  const models: SimModel[] = [];
  for (let i = 0; i < n; i++) {
    const shape = shapes[Math.floor(hashUniform(7, i, 0) * shapes.length)];
    const B = batches[Math.floor(hashUniform(7, i, 1) * batches.length)];
    const steps = 8 + Math.floor(hashUniform(7, i, 2) * 17);
    models.push({ ...(await presetModel(`m${i}`, { arch: arch('gpt2', shape), B, steps, evalSeqs: 0 })), evalBatches: 0 });
  }
  return { name: 'many', models, devices: devicesOf(new Array<number>(devices).fill(1)), bandwidth: DEFAULT_BANDWIDTH };
}

test('many models on few devices: Sharded-LRTF with copies is within 0.1 % of model-lrtf, its hints come true, its models finish together', async () => {
  const w = await manyModels(100, 8);
  const lrtf = simulate(w, { policy: 'sharded-lrtf' });
  const owner = simulate(w, { policy: 'model-lrtf' });
  // With the real models' plans (boundary and gradient copies counted) it is 0.05 % behind here (546.66 vs 546.39 s);
  // before the lookahead predicted its own picks it was 1 % behind on the older analytic profile. Not yet a win.
  assert.ok(lrtf.makespan <= owner.makespan * 1.001, `sharded-lrtf ${lrtf.makespan} s vs model-lrtf ${owner.makespan} s`);
  // Every model's first shard is copied once somewhere; beyond that, serial copies come from wrong hints. Before the
  // lookahead replayed other devices keeping their models (and left models they prefetch to them): 608 here on the
  // older analytic profile (now 204 with the real plans).
  assert.ok(lrtf.transfers.serial < 3 * w.models.length, `${lrtf.transfers.serial} serial copies for ${w.models.length} models`);
  // The scheduler's estimates count each task's own copies (the executor times them with the task; so does the
  // simulator): before they did, small models (more copy per second of compute) finished 26 s after the big ones.
  const plain = simulate({ ...w, bandwidth: Infinity }, { policy: 'sharded-lrtf' });
  const spread = (r: typeof lrtf) => Math.max(...r.models.map((m) => m.finish)) - Math.min(...r.models.map((m) => m.finish));
  const longestTask = Math.max(...w.models.flatMap((m) => m.shards.map((s) => Math.max(s.F, s.FL, s.B))));
  const longestCopy = Math.max(...w.models.flatMap((m) => m.shards.map((s) => s.paramBytes / w.bandwidth)));
  assert.ok(spread(lrtf) <= spread(plain) + longestTask + longestCopy, `finish times spread ${spread(lrtf)} s vs plain LRTF ${spread(plain)} s`);
});
