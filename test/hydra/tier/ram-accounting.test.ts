/**
 * Everything hydra-dl holds in RAM is counted against the RAM there is (tier/physical-memory.ts, tier/preflight.ts,
 * tier/result-weights.ts):
 *   - cpu and js devices' memory is this same RAM: their budgets count beside the host tier in the preflight, and the
 *     default cap leaves room for them (cap + device budgets + runtime allowance = the default share of RAM) — each
 *     counted for what the job's models can use of it when that is less than its budget;
 *   - `hydra train --dry-run`'s RAM line names the host tier, the device budgets, the runtime and where the result's
 *     weights go;
 *   - a capped job's result does not hold its models' weights in RAM: parameters that lived on disk are kept in the
 *     result's file and read on access (bytes measured in a child process after garbage collection).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../../src/hydra/job/train.js';
import { previewPlacement } from '../../../src/hydra/job/preview.js';
import { preflight, PreflightError } from '../../../src/hydra/tier/preflight.js';
import { DEFAULT_HOST_SHARE, defaultHostMemory, deviceNeed, devicesBytes, devicesInRam, physicalMemory, RUNTIME_ALLOWANCE } from '../../../src/hydra/tier/physical-memory.js';
import { DISK_DEVICE_BUDGET, DISK_HOST_CAP, diskTasks } from '../disk-tasks.js';
import { tinyTask } from '../helpers.js';
import type { PartitionPlan } from '../../../src/hydra/api.js';
import type { ModelRuntime } from '../../../src/hydra/run/model-runtime.js';

const GiB = 1024 ** 3;
const ram = { bytes: 8 * GiB, totalmem: 8 * GiB };
const ok = { hostBytes: 6 * GiB, hostFloor: GiB, diskBytes: 0, hostCap: 6 * GiB, hostCapGiven: true, ram };

test('preflight counts cpu devices\' budgets as RAM: a cap that fits RAM alone but not beside two 1 GiB devices is refused, naming the numbers and the fix', () => {
  preflight(ok); // 6 GiB + the runtime's 512 MiB fit 8 GiB
  const devices = devicesInRam({ kind: 'cpu', count: 2 }, GiB);
  assert.throws(() => preflight({ ...ok, devices }), (e: Error) =>
    e instanceof PreflightError &&
    /would hold 8\.5 GiB in RAM/.test(e.message) &&
    /host tier's 6\.0 GiB \(hostMemory is 6\.0 GiB\)/.test(e.message) &&
    /2 cpu devices' budgets \(2 × 1\.0 GiB = 2\.0 GiB: a cpu device's memory is this same RAM\)/.test(e.message) &&
    /more than the 8\.0 GiB of RAM/.test(e.message) &&
    /Lower hostMemory to at most 5\.5 GiB .*lower deviceMemory, or use fewer devices/.test(e.message));
  // A GPU's memory is not RAM.
  assert.equal(devicesInRam({ kind: 'webgpu', count: 2 }, GiB), undefined);
  preflight({ ...ok, devices: devicesInRam({ kind: 'webgpu', count: 2 }, 8 * GiB) });
});

test('the default cap leaves room for the devices in RAM and the runtime; devices that alone exceed RAM are refused', () => {
  const devices = devicesInRam({ kind: 'js', count: 2 }, GiB)!;
  const cap = defaultHostMemory(ram, devices);
  assert.equal(cap, Math.floor(DEFAULT_HOST_SHARE * ram.bytes - 2 * GiB - RUNTIME_ALLOWANCE));
  assert.ok(cap < defaultHostMemory(ram), 'less than without devices');
  const huge = devicesInRam({ kind: 'cpu', count: 2 }, 5 * GiB);
  assert.equal(defaultHostMemory(ram, huge), 0);
  assert.throws(() => preflight({ ...ok, hostBytes: GiB, hostCap: 0, hostCapGiven: false, devices: huge }), /hostMemory is 0 B: the default, 60% of 8\.0 GiB less the devices' 10\.0 GiB and the runtime's 512\.0 MiB\).*2 × 5\.0 GiB = 10\.0 GiB.*The device budgets alone leave no room: lower deviceMemory or use fewer devices/);
});

test('preflight counts the result\'s weights file against the free disk', () => {
  const disk = { ...ok, diskBytes: 10 * GiB, spillDir: '/spill', diskFree: 11 * GiB };
  preflight(disk);
  assert.throws(() => preflight({ ...disk, resultDiskBytes: 2 * GiB }), /10\.0 GiB of state on disk at spillDir \/spill and the result keeps 2\.0 GiB of final weights there, which has 11\.0 GiB free/);
});

test('a device in RAM is counted for what the job\'s models can use of it when that is below its budget: the default cap grows by the rest', () => {
  const big = devicesInRam({ kind: 'cpu', count: 2 }, 5 * GiB)!;
  assert.equal(defaultHostMemory(ram, big), 0, 'two 5 GiB budgets leave no default cap on 8 GiB');
  const used = { ...big, need: 300 * 1024 ** 2 };
  assert.equal(devicesBytes(used), 600 * 1024 ** 2);
  assert.equal(defaultHostMemory(ram, used), Math.floor(DEFAULT_HOST_SHARE * ram.bytes - 600 * 1024 ** 2 - RUNTIME_ALLOWANCE));
  assert.equal(devicesBytes({ ...big, need: 6 * GiB }), 10 * GiB, 'never more than the budget');
  // When what the models need is itself too much, the refusal names both figures.
  assert.throws(() => preflight({ ...ok, devices: { ...big, need: 2 * GiB } }), /2 × 2\.0 GiB, what the job's models can use of 5\.0 GiB, = 4\.0 GiB/);
});

test('deviceNeed: every model\'s parameters, gradients and optimizer state, plus the heaviest shard task\'s peak and reserve', () => {
  const rt = (n: number, optimizer: { kind: 'adamw' } | { kind: 'sgd'; momentum: number }) => ({ params: [{ n }], recipe: { optimizer } }) as unknown as ModelRuntime;
  const plan = (peaks: number[], reserve: number) => ({ reserve, shards: peaks.map((train) => ({ peakBytes: { forward: 0, train } })) }) as unknown as PartitionPlan;
  const need = deviceNeed([
    { rt: rt(100, { kind: 'adamw' }), plan: plan([1000, 3000], 50) }, // 4 × 100 floats: value, gradient, m, v
    { rt: rt(10, { kind: 'sgd', momentum: 0 }), plan: plan([2000], 500) }, // value and gradient only
  ]);
  assert.deepEqual(need, { state: 4 * 100 * 4 + 2 * 10 * 4, peak: 3050 });
});

test('train(): cpu devices whose budgets exceed what the job needs ("no limit") do not take the default host cap away', async () => {
  const machine = physicalMemory();
  const budget = Math.ceil(machine.bytes / 2); // two of them: all of RAM, so counted as budgets the default cap is 0
  assert.equal(defaultHostMemory(machine, devicesInRam({ kind: 'cpu', count: 2 }, budget)), 0);
  const r = await train([tinyTask('a', { steps: 2 })], { devices: 'cpu:2x1', deviceMemory: budget, planDir: null, spillDir: null });
  assert.equal(r.models[0].status, 'done', r.models[0].reason);
  // A tiny model needs a few MiB of each device: the default cap is the default share less those and the runtime.
  const cap = r.hostTier?.budget ?? 0;
  assert.ok(cap > DEFAULT_HOST_SHARE * machine.bytes - RUNTIME_ALLOWANCE - 64 * 1024 ** 2 && cap <= DEFAULT_HOST_SHARE * machine.bytes - RUNTIME_ALLOWANCE, `the host cap: ${cap}`);
});

test('dry run: the RAM line names the host tier, the device budgets, the runtime and where the result\'s weights go', async () => {
  const spill = mkdtempSync(join(tmpdir(), 'hydra-ramline-'));
  const lines = await previewPlacement(diskTasks, { devices: 'js:2', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null });
  const line = lines.find((l) => l.startsWith('RAM: '));
  assert.ok(line, lines.join('\n'));
  assert.match(line, /^RAM: host tier .* of hostMemory 244\.1 KiB \+ 2 js devices × 87\.9 KiB = 175\.8 KiB \(their memory is this RAM\) \+ runtime 512\.0 MiB = .* of .*; final weights: .* in RAM \(views of the host tier\), [1-9][0-9.]* KiB kept on disk \(read on access, or streamed to where they are saved\)$/);
  assert.deepEqual(readdirSync(spill), [], 'nothing written');
});

const JOB = new URL('../fixtures/disk-job.js', import.meta.url).pathname;

test('a capped job\'s result does not keep its weights in RAM: parameters that lived on disk are read from the result\'s file on access', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-held-'));
  // ≈ 25 M parameters (100 MB of weights, 400 MB of AdamW state) under a 120 MB cap: most parameters live on disk.
  const args = { spill: dir, hostMemory: 120e6, deviceMemory: 40e6, steps: 1, model: 'big', measureHeld: true };
  const r = spawnSync(process.execPath, ['--expose-gc', JOB, JSON.stringify(args)], { encoding: 'utf8' });
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { type: string; models: { status: string; reason?: string }[]; heldArrayBufferBytes: number; weightBytes: number; weightsOnDisk: number; weightSum: number };
  assert.equal(last.type, 'result', `${r.stderr}\n${r.stdout.slice(-2000)}`);
  assert.equal(last.models[0].status, 'done', last.models[0].reason);
  const MiB = 2 ** 20;
  assert.ok(last.weightBytes > 90e6, `the result names every weight (${last.weightBytes} B)`);
  assert.ok(Number.isFinite(last.weightSum), 'and reads them back');
  assert.ok(last.weightsOnDisk > 0.7 * last.weightBytes, `most weights kept on disk: ${last.weightsOnDisk} of ${last.weightBytes} B`);
  // What the process still holds in ArrayBuffers: the weights of parameters the host tier held (views), and a little.
  const inRam = last.weightBytes - last.weightsOnDisk;
  console.log(`held after the job: ${last.heldArrayBufferBytes} B of ArrayBuffers; weights ${last.weightBytes} B, ${last.weightsOnDisk} B of them on disk`);
  assert.ok(last.heldArrayBufferBytes <= inRam + 16 * MiB, `held ${(last.heldArrayBufferBytes / MiB).toFixed(1)} MiB after the job, weights in RAM ${(inRam / MiB).toFixed(1)} MiB (all weights ${(last.weightBytes / MiB).toFixed(1)} MiB)`);
  assert.deepEqual(readdirSync(dir), [], 'scratch removed, the result file unlinked');
});
