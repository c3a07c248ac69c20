/**
 * The live dashboard in a real browser, served by the real `hydra train --dashboard` (two tiny GPT-2s on js:2): the
 * page loads from the running job and follows it; its Stop button stops the job as Ctrl-C does (checkpoints
 * written, exit 130); the page's table, curves, timeline and host-tier chart then match results.json and events.jsonl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import { formatLoss } from '../../src/report/format.js';
import { tempDir, writeFile } from '../config/fixtures.js';
import { launchBrowser, openPage, readPage } from './browser.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const TEXT = join(REPO, 'examples/data/wikitext-tiny-eval.txt');

test('hydra train --dashboard: the page follows the running job, its Stop button stops it like Ctrl-C, and it shows the files\' numbers', async () => {
  const dir = tempDir();
  const file = writeFile(join(dir, 'job.yaml'), stringify({
    name: 'live-test', model: { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, dropout: 0.1, tie: false },
    data: { train: TEXT, eval: TEXT, eval_tokens: 64 }, grid: { lr: [1e-2, 1e-3] }, batch_size: 2,
    steps: 500, devices: 'js:2', device_memory: '16MiB', plan_dir: 'plans', out_dir: 'out',
  }));
  const child = spawn(process.execPath, [join(REPO, 'dist/src/cli/main.js'), 'train', file, '--dashboard', '0', '--progress', 'lines'], { cwd: dir });
  let stdout = '', stderr = '';
  child.stdout.on('data', (c) => (stdout += String(c)));
  child.stderr.on('data', (c) => (stderr += String(c)));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r((exitCode = c))));
  const browser = await launchBrowser();
  try {
    const deadline = Date.now() + 60_000;
    let url: string | undefined;
    while (!(url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(stderr)?.[1])) {
      assert.equal(exitCode, undefined, `hydra exited before serving its dashboard:\n${stderr}`);
      assert.ok(Date.now() < deadline, `no dashboard within 60 s:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { page, errors } = await openPage(browser, url);
    // Live: the page keeps receiving the job's events until every model has taken a step.
    await page.waitForFunction(() => window.hydraDashboard!.view.models.length === 2 && window.hydraDashboard!.view.models.every((m) => m.losses.length >= 1), null, { timeout: 60_000 });
    assert.match(await page.locator('#connection').innerText(), /live/);

    await page.locator('#stop').click();
    assert.equal(await exited, 130, `exit as for Ctrl-C\n${stdout}\n${stderr}`);
    const out = join(dir, 'out');
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { models: { name: string; status: string; losses: number[]; finalTrainLoss: number; checkpoint?: { path: string } }[] };
    assert.deepEqual(results.models.map((m) => m.status), ['stopped', 'stopped']);
    for (const m of results.models) assert.ok(m.checkpoint && existsSync(m.checkpoint.path), `${m.name} is checkpointed`);
    assert.equal(readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.ckpt')).length, 2);
    assert.match(stdout, /continue with: hydra train job\.yaml --resume/);
    assert.ok(existsSync(join(out, 'report.html')));

    // The page got every event before the server closed ('end'), and shows the files' numbers.
    // A guard only (the end arrives at once on a quiet machine): generous for a loaded one.
    await page.waitForFunction(() => document.getElementById('connection')!.textContent === 'job over', null, { timeout: 60_000 });
    const shown = await readPage(page);
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; model?: string; loss?: number });
    for (const m of results.models) {
      const steps = events.filter((e) => e.type === 'step' && e.model === m.name).map((e) => e.loss);
      assert.deepEqual(shown.losses[m.name], m.losses, `${m.name}: losses as in results.json`);
      assert.deepEqual(shown.losses[m.name], steps, `${m.name}: losses as in events.jsonl`);
      assert.equal(shown.curvePoints[m.name], steps.length, `${m.name}: one curve point per step`);
      assert.equal(shown.rows[m.name].loss, formatLoss(m.finalTrainLoss));
      assert.match(shown.rows[m.name].status, /^stopped/);
    }
    assert.equal(shown.bars, events.filter((e) => e.type === 'task-end').length, 'one timeline bar per task');
    // The host tier over time: 0, then the bytes in use after each model's state arrived (a point per event).
    const hostEvents = events.filter((e) => e.type === 'host-alloc') as { inUse?: number }[];
    assert.equal(hostEvents.length, 2);
    const hostInUse = await page.evaluate(() => [...window.hydraDashboard!.charts.host.plot!.data[1]]);
    assert.deepEqual(hostInUse.slice(0, 3), [0, ...hostEvents.map((e) => e.inUse)]);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    if (exitCode === undefined) child.kill('SIGKILL');
  }
});
