/**
 * The disk tier's exactness and accounting, end to end through train(): a host cap that forces state to disk (whole
 * shards' values and gradients, and optimizer moments) on two one-thread cpu devices, two models interleaved — one
 * with global-norm clipping and AdamW (every shard on disk: steps wait for the norm, then stream from disk), one with
 * SGD momentum and no clipping (steps streamed as soon as each shard's gradients are final) — and each ends bitwise
 * equal to training it alone in RAM. The host tier stays within its cap, the devices within their budgets, and the
 * job leaves no scratch file behind. Checkpoint and resume of a model on disk are bitwise too (checkpoints and final
 * weights streamed from the tiers); a model on disk stopped
 * by name gives its weights back and its room to a model added after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../src/backend/index.js';
import { train } from '../../src/hydra/job/train.js';
import { startTraining } from '../../src/hydra/job/job-control.js';
import { JsBackend } from '../../src/backend/js.js';
import type { HydraEvent } from '../../src/hydra/api.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { sameBits, trainAlone } from './helpers.js';
import { cpuSkip, DISK_DEVICE_BUDGET, DISK_HOST_CAP, diskTasks } from './disk-tasks.js';

/** Each disk task trained alone in RAM on one cpu thread (the reference), once per file. */
const alone = new Map<string, ReturnType<typeof trainAlone>>();
function aloneInRam(name: string): ReturnType<typeof trainAlone> {
  let r = alone.get(name);
  if (!r) {
    const task = diskTasks.find((x) => x.name === name)!;
    r = createBackend('cpu', { threads: 1 }).then((be) => trainAlone(task, be).finally(() => be.dispose()));
    alone.set(name, r);
  }
  return r;
}

test('train() with state on disk (host cap forcing it, ≥ 3 shards, two models on cpu:2x1): bitwise equal to training alone in RAM', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const spill = mkdtempSync(join(tmpdir(), 'hydra-disk-'));
  const result = await train(diskTasks, { devices: 'cpu:2x1', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null });
  const focus = result.models.find((m) => m.name === 'focus')!, other = result.models.find((m) => m.name === 'other')!;
  assert.ok(focus.plan.shards.length >= 3, `focus has ${focus.plan.shards.length} shards`);
  assert.ok((focus.placement?.diskShards.length ?? 0) >= 3, `focus has shards on disk: ${JSON.stringify(focus.placement)}`);
  assert.ok((other.placement?.diskShards.length ?? 0) >= 1, `other has a shard on disk: ${JSON.stringify(other.placement)}`);
  for (const m of result.models) {
    const ref = await aloneInRam(m.name);
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    for (const [name, w] of ref.params) assert.ok(sameBits(w.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  assert.ok(result.hostTier!.highWater <= DISK_HOST_CAP, `host high-water ${result.hostTier!.highWater}`);
  for (const d of result.devices) assert.ok(d.highWater <= DISK_DEVICE_BUDGET, `device ${d.id} high-water ${d.highWater}`);
  const disk = result.diskTier!;
  assert.ok(disk.bytesRead > 0 && disk.bytesWritten > 0 && disk.highWater > 0, JSON.stringify(disk));
  assert.deepEqual(readdirSync(spill), [], 'scratch files are removed at the end of the job');
});

test('two-level prefetch: on one device, the next task\'s shard (often the other model\'s) is read disk → host and copied host → device while a task runs; bitwise equal to training alone in RAM', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const spill = mkdtempSync(join(tmpdir(), 'hydra-disk-'));
  const result = await train(diskTasks, { devices: 'cpu:1x1', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null });
  const disk = result.diskTier!;
  assert.ok(disk.aheadReadBytes > 0, `read ahead for the device's next task: ${JSON.stringify(disk)}`);
  assert.ok(disk.aheadUploadedBytes > 0, `copied host → device from a staging slot before its task: ${JSON.stringify(disk)}`);
  assert.ok(result.prefetch.usedBytes > 0, `device prefetches used: ${JSON.stringify(result.prefetch)}`);
  for (const m of result.models) {
    const ref = await aloneInRam(m.name);
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    for (const [name, w] of ref.params) assert.ok(sameBits(w.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  assert.ok(result.hostTier!.highWater <= DISK_HOST_CAP, `host high-water ${result.hostTier!.highWater}`);
  assert.ok(result.devices[0].highWater <= DISK_DEVICE_BUDGET, `device high-water ${result.devices[0].highWater}`);
});

test('prefetch: false turns off the disk tier\'s read-ahead too (every shard is read when its task comes); still bitwise equal to training alone in RAM', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const spill = mkdtempSync(join(tmpdir(), 'hydra-disk-'));
  const result = await train(diskTasks, { devices: 'cpu:1x1', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null, prefetch: false });
  const disk = result.diskTier!;
  assert.equal(disk.aheadReadBytes, 0, `nothing read ahead: ${JSON.stringify(disk)}`);
  assert.equal(result.prefetch.copiedBytes, 0, `no device prefetch: ${JSON.stringify(result.prefetch)}`);
  for (const m of result.models) {
    const ref = await aloneInRam(m.name);
    assert.equal(m.status, 'done', `${m.name}: ${m.reason}`);
    assert.deepEqual(m.losses, ref.losses, `${m.name}: losses`);
    for (const [name, w] of ref.params) assert.ok(sameBits(w.data, m.weights.get(name)!.data), `${m.name}: parameter ${name} differs`);
  }
  assert.deepEqual(readdirSync(spill), [], 'scratch files are removed at the end of the job');
});

test('checkpoint and resume with state on disk (checkpoints and final weights streamed from the tiers): stopped at step 2 and resumed, bitwise equal to training alone in RAM', async (t) => {
  const skip = await cpuSkip();
  if (skip) return t.skip(skip);
  const spill = mkdtempSync(join(tmpdir(), 'hydra-disk-resume-'));
  const focus = diskTasks[0];
  // Alone, the model needs a smaller cap than the two-model job to have most of its shards on disk.
  const options = { devices: 'cpu:2x1', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: 160_000, spillDir: spill, planDir: null, checkpointDir: join(spill, 'ckpt'), checkpointEvery: 1 };
  const first = await train([{ ...focus, stopAtStep: 2 }], options);
  assert.equal(first.models[0].status, 'stopped', first.models[0].reason);
  assert.ok((first.models[0].placement?.diskShards.length ?? 0) >= 3, 'its shards were on disk');
  // The final weights streamed from the tiers into a file (as `hydra train` saves them), not read into the result.
  const saved = join(spill, 'weights.safetensors');
  const second = await train([focus], { ...options, resume: true, streamWeights: (_m, w) => writeSafetensors(saved, w) });
  const m = second.models[0];
  assert.equal(m.status, 'done', m.reason);
  assert.ok(m.weightsStreamed && m.weightsError === undefined && m.weights.size === 0, JSON.stringify({ streamed: m.weightsStreamed, error: m.weightsError }));
  const be = await createBackend('cpu', { threads: 1 });
  const ref = await trainAlone(focus, be).finally(() => be.dispose());
  assert.deepEqual(m.losses, ref.losses);
  const back = (await readSafetensors(saved)).tensors;
  for (const [name, w] of ref.params) assert.ok(sameBits(w.data, back.get(name)!.data), `parameter ${name} differs`);
  assert.deepEqual(readdirSync(spill).sort(), ['ckpt', 'weights.safetensors'], 'only checkpoints and the weights remain: scratch is removed');
});

test('a model with state on disk stopped by name mid-job: its weights are read back, its host and disk state let go; a model added after is placed in the room it left', async () => {
  const spill = mkdtempSync(join(tmpdir(), 'hydra-disk-stop-'));
  const events: HydraEvent[] = [];
  let added: Promise<void> | undefined;
  const job = startTraining(diskTasks, {
    devices: 'js:2', deviceMemory: DISK_DEVICE_BUDGET, hostMemory: DISK_HOST_CAP, spillDir: spill, planDir: null,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.model === 'focus' && e.step === 1) job.stop('focus');
      // Once its state is let go, the room is there for another model.
      if (e.type === 'host-release' && e.model === 'focus') added = job.add({ ...diskTasks[1], name: 'late', seed: 9 });
    },
  });
  const r = await job.result;
  await added;
  const focus = r.models.find((m) => m.name === 'focus')!;
  assert.equal(focus.status, 'stopped');
  const ref = await trainAlone(diskTasks[0], new JsBackend());
  assert.deepEqual(focus.losses, ref.losses.slice(0, focus.steps), 'its curve so far');
  assert.equal(focus.weights.size, ref.params.size, 'every weight read back from disk');
  const release = events.find((e) => e.type === 'host-release');
  assert.ok(release && release.type === 'host-release' && release.model === 'focus' && release.bytes > 0);
  const late = r.models.find((m) => m.name === 'late')!;
  assert.equal(late.status, 'done', late.reason);
  assert.ok(r.hostTier!.highWater <= DISK_HOST_CAP);
  assert.deepEqual(readdirSync(spill), []);
});
