/**
 * report.html in a real browser: written at the end of a job (the fake engine: 4 models, one diverging), opened from
 * disk, it renders the numbers of results.json and events.jsonl, marks the diverged model with its reason, and makes
 * no network request at all. With early stopping and a host budget: a mark on the loss curves for every rung event
 * and the host tier's bytes at every host-alloc/host-release event, against its budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { runTrain } from '../../src/cli/train-run.js';
import { formatLoss } from '../../src/report/format.js';
import { tempDir, writeFile } from '../config/fixtures.js';
import { FAKE_RUNG, fakeTrain } from '../cli/fake-engine.js';
import { launchBrowser, openPage, readPage } from './browser.js';

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

/** Run the fake engine on a job over a small text (train and eval), its config given by `job`; returns its out_dir. */
async function runFakeJob(job: Record<string, unknown>): Promise<string> {
  const dir = tempDir();
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(60) + '\n';
  writeFile(join(dir, 'data/train.txt'), text);
  writeFile(join(dir, 'data/eval.txt'), text);
  const file = writeFile(join(dir, 'job.yaml'), stringify({
    model: { preset: 'gpt2-tiny', n_ctx: 16 }, data: { train: 'data/train.txt', eval: 'data/eval.txt' }, devices: 'js:2', device_memory: '64MiB', out_dir: 'out', ...job,
  }));
  await runTrain(file, {}, { train: fakeTrain(), stdout: sink(), stderr: sink(), cwd: dir, cacheDir: join(dir, 'tokens') });
  return join(dir, 'out');
}

test('report.html opened from disk shows results.json\'s numbers, every step and task, the diverged reason, and fetches nothing', async () => {
  const out = await runFakeJob({ name: 'report-test', grid: { lr: [1e-3, 1e-2, 5], batch_size: [2] }, steps: 6 });
  const reportFile = join(out, 'report.html');
  assert.ok(existsSync(reportFile), 'every job ends with report.html');
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { models: { name: string; status: string; reason?: string; losses: (number | null)[]; finalTrainLoss: number | null; finalEvalLoss?: number }[] };
  const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; model?: string; loss?: number });

  const browser = await launchBrowser();
  try {
    const { page, requests, errors } = await openPage(browser, pathToFileURL(reportFile).href);
    const shown = await readPage(page);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [pathToFileURL(reportFile).href], 'the report loads nothing but itself');

    assert.deepEqual(Object.keys(shown.rows).sort(), results.models.map((m) => m.name).sort());
    for (const m of results.models) {
      const row = shown.rows[m.name];
      const steps = events.filter((e) => e.type === 'step' && e.model === m.name);
      assert.equal(row.status.split('\n')[0], m.status);
      assert.equal(shown.curvePoints[m.name], steps.length, `${m.name}: one curve point per step`);
      assert.deepEqual(shown.losses[m.name], steps.map((e) => e.loss), `${m.name}: the losses of events.jsonl`);
      if (m.status === 'done') {
        assert.equal(row.loss, formatLoss(m.finalTrainLoss!), `${m.name}: last loss as in results.json`);
        assert.equal(row['eval-loss'], formatLoss(m.finalEvalLoss));
        assert.deepEqual(shown.losses[m.name], m.losses);
      } else {
        // A diverged model's last loss in results.json is the non-finite one (null); the page shows its last finite
        // loss and the reason, which names the non-finite value.
        assert.equal(m.status, 'diverged');
        assert.deepEqual(shown.losses[m.name], m.losses.slice(0, -1));
        assert.ok(m.reason && row.status.includes(m.reason), `${m.name}: the reason is shown (${row.status})`);
      }
    }
    assert.equal(shown.bars, events.filter((e) => e.type === 'task-end').length, 'one timeline bar per task');
    assert.match(shown.header, /2 done, 1 diverged/);
    assert.match(await page.locator('#log').innerText(), /lr=5 diverged: loss became NaN/);
  } finally {
    await browser.close();
  }
});

test('report.html: early-stopping rungs marked on the loss curves and the host tier over time, one mark or point per event', async () => {
  const out = await runFakeJob({
    name: 'rung-test', grid: { lr: [1e-3, 3e-3, 1e-2, 3e-2] }, batch_size: 2, steps: 8, host_memory: '1GiB',
    early_stopping: { kind: 'asha', metric: 'eval_loss', mode: 'min', grace_steps: FAKE_RUNG, reduction_factor: 2 },
  });
  type Ev = { type: string; model?: string; step?: number; action?: string; inUse?: number };
  const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Ev);
  const rungs = events.filter((e) => e.type === 'rung');
  const hostEvents = events.filter((e) => e.type === 'host-alloc' || e.type === 'host-release');
  assert.deepEqual(rungs.map((e) => e.action), ['continue', 'continue', 'stop', 'stop'], 'the fake engine: two promoted, two stopped');
  assert.equal(hostEvents.length, 6, 'four allocations, two releases');

  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, pathToFileURL(join(out, 'report.html')).href);
    const shown = await page.evaluate(() => {
      const c = window.hydraDashboard!.charts;
      const names = window.hydraDashboard!.view.models.map((m) => m.name);
      return {
        marks: c.drawnRungMarks.map((m) => ({ model: names[m.model], step: m.step, action: m.action })),
        host: c.host.plot!.data.map((s) => [...s]),
        hostLabels: c.host.plot!.series.map((s) => s.label),
      };
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(shown.marks, rungs.map((e) => ({ model: e.model, step: e.step, action: e.action })), 'one mark per rung event, drawn on the canvas');
    // 0 at the start, then the bytes in use after each event; the budget line at host_memory.
    const [, inUse, budget] = shown.host;
    assert.deepEqual(inUse.slice(0, hostEvents.length + 1), [0, ...hostEvents.map((e) => e.inUse!)]);
    assert.deepEqual(shown.hostLabels.slice(1), ['host tier in use', 'host budget']);
    assert.ok(budget.every((b) => b === 1024 ** 3));
  } finally {
    await browser.close();
  }
});
