/** `hydra report RUN_DIR`, `hydra dashboard RUN_DIR` (the real binary) and the --dashboard flag's checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import type { HydraEvent } from '../../src/hydra/api.js';
import { parseDashboardFlag } from '../../src/dashboard/job-watch.js';
import { writeJobMeta } from '../../src/dashboard/job-meta.js';
import { tempDir } from '../config/fixtures.js';

const MAIN = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;
const step = (s: number): HydraEvent => ({ type: 'step', t: s, model: 'm', step: s, epoch: 0, loss: 5 - s, gradNorm: 1, lr: 1e-3 });
const line = (e: HydraEvent) => `${JSON.stringify(e)}\n`;

function runDir(): string {
  const dir = tempDir();
  writeJobMeta(dir, { format: 'hydra-job', name: 'cli-job', devices: 'js:1', deviceMemory: 1 << 20, policy: 'sharded-lrtf', models: [{ name: 'm', hparams: { lr: 1e-3 }, totalSteps: 9 }] });
  writeFileSync(join(dir, 'events.jsonl'), line(step(0)) + line(step(1)));
  return dir;
}

/** The JSON a page embeds. */
function pageData(html: string): { mode: string; events: HydraEvent[]; meta: { name: string } } {
  return JSON.parse(/<script id="hydra-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]) as never;
}

test('hydra report RUN_DIR writes report.html with every event embedded; a directory without events is an error', () => {
  const dir = runDir();
  const r = spawnSync(process.execPath, [MAIN, 'report', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const data = pageData(readFileSync(join(dir, 'report.html'), 'utf8'));
  assert.equal(data.mode, 'report');
  assert.equal(data.meta.name, 'cli-job');
  assert.equal(data.events.length, 2);
  const empty = spawnSync(process.execPath, [MAIN, 'report', tempDir()], { encoding: 'utf8' });
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /events\.jsonl does not exist/);
});

test('hydra dashboard RUN_DIR serves the run directory and follows events.jsonl as it grows', async () => {
  const dir = runDir();
  const child = spawn(process.execPath, [MAIN, 'dashboard', dir, '--port', '0']);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += String(c)));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    // A guard for both waits below (start-up, then the appended event): generous for a loaded machine.
    const deadline = Date.now() + 60_000;
    let url: string | undefined;
    while (!(url = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\w+)/.exec(stderr)?.[1])) {
      assert.ok(Date.now() < deadline, stderr);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(pageData(await (await fetch(url)).text()).events.length, 2);
    appendFileSync(join(dir, 'events.jsonl'), line(step(2)));
    let events = 2;
    while (events < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      events = pageData(await (await fetch(url)).text()).events.length;
    }
    assert.equal(events, 3, 'the appended event is served');
    assert.equal((await fetch(new URL('/files/job.json', url))).status, 200);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
  assert.ok(!existsSync(join(dir, 'report.html')), 'watching writes nothing');
});

test('--dashboard: the port is checked, naming the flag and the value', () => {
  assert.deepEqual(parseDashboardFlag(true, undefined), { port: 7700, host: '127.0.0.1' });
  assert.deepEqual(parseDashboardFlag('0', '0.0.0.0'), { port: 0, host: '0.0.0.0' });
  assert.equal(parseDashboardFlag(undefined, undefined), undefined);
  assert.throws(() => parseDashboardFlag('http', undefined), /--dashboard: expected a port number 0–65535 \(0: any free port\), got 'http'/);
  assert.throws(() => parseDashboardFlag('70000', undefined), /got '70000'/);
  assert.throws(() => parseDashboardFlag('-1', undefined), /got '-1'/);
  assert.throws(() => parseDashboardFlag(undefined, '0.0.0.0'), /--dashboard-host: only with --dashboard/);
});
