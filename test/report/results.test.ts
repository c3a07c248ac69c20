import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rankModels } from '../../src/report/metrics.js';
import { renderJobSummary, renderResultsTable } from '../../src/report/results-table.js';
import { writeResults } from '../../src/report/write-results.js';
import { fsSafeName, fsSafeNames } from '../../src/report/names.js';
import { tempDir } from '../config/fixtures.js';
import { fakeJob } from './fixtures.js';

test('ranking: evaluated models by final eval loss, then diverged, then failed', () => {
  assert.deepEqual(rankModels(fakeJob().models).map((m) => m.name), ['lr=5e-4,bs=2', 'lr=1e-3,bs=2', 'lr=1e-4,bs=2', 'lr=1e-2,bs=2', 'lr=3e-3,bs=2']);
  // Without evaluations the last training loss decides.
  const noEval = fakeJob().models.map((m) => ({ ...m, evals: [] }));
  assert.deepEqual(rankModels(noEval).map((m) => m.name).slice(0, 3), ['lr=5e-4,bs=2', 'lr=1e-3,bs=2', 'lr=1e-4,bs=2']);
});

test('results table: best first, every column, reasons of diverged/failed models below', () => {
  const text = renderResultsTable(fakeJob());
  const lines = text.split('\n');
  assert.match(lines[0], /#\s+model\s+hyper-parameters\s+status\s+steps\s+train loss\s+eval loss\s+eval ppl\s+device-s/);
  assert.match(lines[2], /^1\s+lr=5e-4,bs=2\s+lr=5e-4 batch_size=2\s+done\s+3\s+6\.5000\s+7\.1000\s+1212\s+5\.5$/);
  assert.match(lines[5], /^4\s+lr=1e-2,bs=2 .* diverged\s+1\s+NaN\s+-\s+-\s+5\.5$/);
  assert.match(lines[6], /^5\s+lr=3e-3,bs=2 .* failed\s+0\s+NaN\s+-/);
  assert.ok(text.includes('lr=1e-2,bs=2: diverged — loss became NaN at step 1'));
  assert.ok(text.includes('lr=3e-3,bs=2: failed — task FL1 of step 0 failed on device 1'));
});

test('job summary: makespan, per-device utilisation and peak (and buffers outside a memory region), bytes moved, overlap', () => {
  const s = renderJobSummary(fakeJob());
  assert.match(s, /job: 5 models \(3 done, 1 diverged, 1 failed\), policy sharded-lrtf, makespan 40\.0s/);
  assert.match(s, /device 0: busy 30\.0s \(75%\), peak 20\.0 MiB of 64\.0 MiB\n/, 'no region count: nothing said');
  assert.match(s, /device 1: busy 36\.0s \(90%\), peak 30\.0 MiB of 64\.0 MiB; 3 buffers allocated outside its memory region\n/);
  assert.match(s, /moved 3\.0 GiB between host and devices; 4\.0s of copying overlapped compute \(10% of the makespan\)/);
  assert.match(s, /prefetched 1\.0 GiB \(768\.0 MiB used, 256\.0 MiB dropped\); 2 prefetches did not fit beside the running task/);
});

test('writeResults writes results.json (no weights, with config), results.csv and finished models\' weights', async () => {
  const dir = tempDir();
  const saved: string[] = [];
  const job = fakeJob();
  const w = await writeResults(dir, job, {
    name: 'unit',
    config: { name: 'unit', grid: [{ key: 'lr', values: [1] }] },
    saveModel: (d, m) => {
      saved.push(`${d}|${m.name}|${m.weights.size}`);
    },
  });
  assert.deepEqual(saved.sort(), ['lr=1e-3,bs=2', 'lr=1e-4,bs=2', 'lr=5e-4,bs=2'].map((n) => `${join(dir, 'models', n)}|${n}|1`).sort());
  assert.deepEqual(w.failures, []);
  const json = JSON.parse(readFileSync(w.resultsJson!, 'utf8'));
  assert.equal(json.format, 'hydra-results');
  assert.equal(json.name, 'unit');
  assert.deepEqual(json.config, { name: 'unit', grid: [{ key: 'lr', values: [1] }] });
  assert.equal(json.makespanSeconds, 40);
  assert.equal(json.policy, 'sharded-lrtf');
  assert.equal(json.devices.length, 2);
  assert.deepEqual(json.ranking[0], 'lr=5e-4,bs=2');
  assert.equal(json.models.length, 5);
  for (const m of json.models) assert.equal(m.weights, undefined, 'weights are not in results.json');
  const best = json.models.find((m: { name: string }) => m.name === 'lr=5e-4,bs=2');
  assert.equal(best.finalEvalLoss, 7.1);
  assert.equal(best.finalTrainLoss, 6.5);
  assert.equal(best.weightsDir, join('models', 'lr=5e-4,bs=2'));
  assert.equal(best.plan.shards.length, 2);
  const diverged = json.models.find((m: { name: string }) => m.name === 'lr=1e-2,bs=2');
  assert.deepEqual(diverged.losses, [10, null], 'NaN is written as null');
  assert.equal(diverged.weightsDir, undefined);
  assert.ok(existsSync(w.resultsCsv!));
  assert.equal(job.models[0].weights.size, 1, 'the caller\'s result keeps its weights');
});

test('file-system names: unsafe characters replaced, collisions made distinct', () => {
  assert.equal(fsSafeName('lr=3e-4,bs=8'), 'lr=3e-4,bs=8');
  assert.equal(fsSafeName('a/b c:d*'), 'a_b_c_d_');
  assert.equal(fsSafeName('..'), '__');
  assert.equal(fsSafeName('.hidden'), '_hidden');
  assert.equal(fsSafeName(''), '_');
  assert.equal(fsSafeName('x'.repeat(300)).length, 120);
  const m = fsSafeNames(['a/b', 'a:b', 'A_B', 'c']);
  assert.deepEqual([...m.values()], ['a_b', 'a_b~2', 'A_B~3', 'c']);
});

test('writeResults saves a stopped-early model\'s weights too (whole steps), never a diverged or failed one\'s', async () => {
  const dir = tempDir();
  const saved: string[] = [];
  const job = fakeJob();
  job.models[0] = { ...job.models[0], status: 'stopped-early', reason: 'stopped early by asha at rung 0 (step 2)' };
  await writeResults(dir, job, { name: 'unit', config: {}, saveModel: (_d, m) => void saved.push(m.name) });
  assert.ok(saved.includes(job.models[0].name), `saved: ${saved.join(', ')}`);
  assert.ok(!saved.includes('lr=1e-2,bs=2') && !saved.includes('lr=3e-3,bs=2'), 'diverged and failed models are not saved');
});
