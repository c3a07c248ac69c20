import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadWorkload, parseBandwidth, parseDevicesFlag, parseWorkload } from '../../src/sim/workload-file.js';
import { PRESETS, paperGrid } from '../../src/sim/presets.js';
import { validateWorkload } from '../../src/sim/validate-workload.js';
import { modelPlan } from '../../src/sim/model-profile.js';
import { simShards } from '../../src/sim/from-plans.js';

const GiB = 2 ** 30;

test('a YAML workload: replicated models, uniform and explicit shards, epochs, device forms, sizes and rates', async () => {
  const w = await parseWorkload(
    parseYaml(`
name: demo
devices: [{speed: 2, memory: 40GiB}, {count: 2}]
deviceMemory: 16GiB
bandwidth: 25GB/s
sharedBandwidth: 10GB/s
models:
  - id: xl
    count: 3
    shards: 4
    forward: 0.5
    backward: 1
    paramBytes: 700MB
    epochs: 2
    stepsPerEpoch: 5
    evalBatches: 2
  - id: custom
    shards: [{forward: 0.2, backward: 0.4, paramBytes: 1GB, peakBytes: 3GiB}, {F: 0.1, FL: 0.5, B: 0.3, E: 0.1, paramBytes: 1GB}]
    steps: 7
`),
  );
  assert.equal(w.name, 'demo');
  assert.deepEqual(w.devices, [{ speed: 2, memoryBytes: 40 * GiB }, { speed: 1, memoryBytes: 16 * GiB }, { speed: 1, memoryBytes: 16 * GiB }]);
  assert.equal(w.bandwidth, 25e9);
  assert.equal(w.sharedBandwidth, 10e9);
  assert.deepEqual(w.models.map((m) => m.id), ['xl-0', 'xl-1', 'xl-2', 'custom']);
  const xl = w.models[0];
  assert.equal(xl.shards.length, 4);
  assert.deepEqual(xl.shards[0], { F: 0.5, FL: 1.5, B: 1.5, E: 0.5, paramBytes: 700e6, peakBytes: 1400e6 });
  assert.equal(xl.minibatches, 10);
  assert.equal(xl.stepsPerEpoch, 5);
  const c = w.models[3];
  assert.deepEqual(c.shards[1], { F: 0.1, FL: 0.5, B: 0.3, E: 0.1, paramBytes: 1e9, peakBytes: 2e9 });
  assert.equal(c.shards[0].peakBytes, 3 * GiB);
  assert.equal(c.minibatches, 7);
});

test('unknown or contradictory fields are errors that name them', async () => {
  const base = { models: [{ id: 'a', shards: 1, forward: 1, backward: 1, paramBytes: 10, steps: 1 }] };
  const cases: [unknown, RegExp][] = [
    [{ ...base, gpus: 4 }, /RangeError: gpus: unknown field \(accepted: name, description, devices, deviceMemory, bandwidth, sharedBandwidth, models\)/],
    [{ models: [{ ...base.models[0], lr: 1e-4 }] }, /models\[0\]\.lr: unknown field/],
    [{ models: [{ id: 'a', shards: [{ forward: 1, backward: 1, paramBytes: 1, fwd: 2 }], steps: 1 }] }, /models\[0\]\.shards\[0\]\.fwd: unknown field/],
    [{ models: [{ ...base.models[0], epochs: 2 }] }, /models\[0\]: give either steps or epochs/],
    [{ models: [{ id: 'a', shards: 1, forward: 1, backward: 1, paramBytes: 10 }] }, /models\[0\]: needs steps, or epochs and stepsPerEpoch/],
    [{ models: [{ ...base.models[0], forward: 'fast' }] }, /models\[0\]\.forward: expected a number ≥ 0, got "fast"/],
    [{ ...base, devices: [1, -2] }, /devices\[1\]\.speed: expected a number > 0, got -2/],
    [{ ...base, bandwidth: 'quick' }, /bandwidth: expected a size like/],
    [{ ...base, sharedBandwidth: 'half' }, /sharedBandwidth: expected a size like/],
    [{ ...base, deviceMemory: 15 }, /shard 0 needs 20 bytes at its peak but device 0 has 15/],
    [{ models: [] }, /models: expected a non-empty list of models/],
  ];
  for (const [doc, re] of cases) await assert.rejects(parseWorkload(doc), re);
});

test('a real model in a workload file: its shards are its plan on the smallest device; bad fields are named', async () => {
  const doc = (model: object) => ({ devices: [{ memory: '8GiB' }, { memory: '16GiB' }], models: [{ id: 'l', count: 2, steps: 5, batch: 4, seq: 256, ...model }] });
  const w = await parseWorkload(doc({ model: { family: 'llama', preset: 'tinyllama-1.1b' }, tflops: 20 }));
  const plan = await modelPlan({ arch: { family: 'llama', config: { preset: 'tinyllama-1.1b' } }, B: 4, T: 256, deviceMemory: 8 * GiB, tflops: 20 });
  assert.deepEqual(w.models.map((m) => m.id), ['l-0', 'l-1']);
  assert.ok(plan.shards.length >= 2, `TinyLlama at batch 4×256 is cut for 8 GiB (${plan.shards.length} shards)`);
  assert.deepEqual(w.models[1].shards, simShards(plan));
  assert.equal(w.models[0].minibatches, 5);
  // GPT-2 is the default family.
  const g = await parseWorkload(doc({ model: { preset: 'gpt2' } }));
  assert.equal(g.models[0].shards.reduce((a, s) => a + s.paramBytes, 0) > 4 * 124e6, true);
  const cases: [object, RegExp][] = [
    [{ model: { preset: 'gpt2' }, shards: 2 }, /models\[0\]\.shards: not allowed with models\[0\]\.model/],
    [{ model: { preset: 'gpt2' }, batch: 0 }, /models\[0\]\.batch: expected an integer > 0, got 0/],
    [{ model: { family: 'llama', preset: 'gpt2' } }, /models\[0\]: .*unknown Llama preset "gpt2"/],
    [{ model: { preset: 'gpt2' }, seq: 2048 }, /models\[0\]: T: 2048 tokens is longer than/],
    [{ shards: 1, forward: 1, backward: 1, paramBytes: 1, tflops: 5 }, /models\[0\]: batch, seq, tflops need models\[0\]\.model/],
  ];
  for (const [model, re] of cases) await assert.rejects(parseWorkload(doc(model)), re);
});

test('files: JSON and YAML by extension, presets by name, clear errors otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-sim-'));
  const doc = { devices: 2, models: [{ id: 'a', shards: 2, forward: 1, backward: 2, paramBytes: '1MB', steps: 3 }] };
  writeFileSync(join(dir, 'w.json'), JSON.stringify(doc));
  writeFileSync(join(dir, 'w.yml'), 'devices: 2\nmodels:\n  - {id: a, shards: 2, forward: 1, backward: 2, paramBytes: 1MB, steps: 3}\n');
  assert.deepEqual(await loadWorkload(join(dir, 'w.json')), { ...(await loadWorkload(join(dir, 'w.yml'))), name: 'w' });
  assert.equal((await loadWorkload('hetero')).name, 'hetero');
  await assert.rejects(loadWorkload(join(dir, 'w.txt')), /expected a preset \(paper-grid, hetero, large, grid48\) or a .json\/.yaml file/);
  writeFileSync(join(dir, 'bad.json'), '{"models": [');
  await assert.rejects(loadWorkload(join(dir, 'bad.json')), /bad.json: not valid JSON/);
  writeFileSync(join(dir, 'typo.yaml'), 'modles: []\n');
  await assert.rejects(loadWorkload(join(dir, 'typo.yaml')), /typo.yaml: modles: unknown field/);
});

test('CLI flags: --devices as a count or speeds, --bandwidth with units or inf', () => {
  assert.deepEqual(parseDevicesFlag('3', 7), [1, 1, 1].map((speed) => ({ speed, memoryBytes: 7 })));
  assert.deepEqual(parseDevicesFlag('1, 2,0.5', 7).map((d) => d.speed), [1, 2, 0.5]);
  assert.throws(() => parseDevicesFlag('1,x', 7), /--devices: expected a device count or a list of positive speeds/);
  assert.equal(parseBandwidth('12GB/s'), 12e9);
  assert.equal(parseBandwidth('inf'), Infinity);
  assert.equal(parseBandwidth(5e9), 5e9);
});

test('presets: the paper grid is 12 GPT-2 XL configurations whose shards fit 16 GiB', async () => {
  const w = await paperGrid(8);
  assert.equal(w.models.length, 12);
  assert.equal(new Set(w.models.map((m) => m.id)).size, 12);
  const b16 = w.models.filter((m) => m.id.includes('-b16-'));
  const b8 = w.models.filter((m) => m.id.includes('-b8-'));
  assert.equal(b16.length, 6);
  assert.ok(b16[0].shards.length > b8[0].shards.length, 'a bigger batch needs more, smaller shards');
  assert.ok(Math.abs(b8[0].minibatches / b16[0].minibatches - 2) < 0.01, 'same tokens per epoch');
  for (const m of w.models) for (const s of m.shards) assert.ok(s.peakBytes <= 16 * GiB);
  // Learning rate changes nothing the scheduler sees.
  assert.deepEqual(b16[0].shards, b16[5].shards);
  // The tied head's weight is counted in the first shard and again in the last (each holds a copy on its device).
  const params = b16[0].shards.reduce((a, s) => a + s.paramBytes, 0) / 4;
  assert.ok(params > 1.5e9 && params < 1.8e9, `GPT-2 XL parameters (+ tied head counted twice): ${params}`);
  for (const name of Object.keys(PRESETS)) {
    const p = await PRESETS[name]();
    assert.ok(p.models.length > 0, name);
    validateWorkload(p);
  }
  const large = await PRESETS.large();
  assert.equal(large.models.length, 1000);
  assert.equal(large.devices.length, 64);
});
