// Regenerates the README's dashboard screenshots (docs/dashboard-live.png, docs/report.png): runs the ASHA example
// (examples/asha-tiny.yaml: 12 models, early stopping at rungs of 4, 8 and 16 steps) with a host-tier budget and
// --dashboard, photographs the live page part-way (after a first early stop, once a survivor is past the second rung),
// then the report from disk. Needs chromium (apt-get install chromium) and a build (npm run build).
// Usage: node scripts/dashboard-screenshots.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const out = mkdtempSync(join(tmpdir(), 'hydra-screens-'));
const repo = new URL('..', import.meta.url).pathname;
const child = spawn(process.execPath, [join(repo, 'dist/src/cli/main.js'), 'train', join(repo, 'examples/asha-tiny.yaml'), '--host-memory', '1GiB', '--out', out, '--dashboard', '0', '--progress', 'lines'], { stdio: ['ignore', 'inherit', 'pipe'] });
let stderr = '';
child.stderr.on('data', (c) => (stderr += String(c)));
const exited = new Promise((r) => child.on('exit', r));
let url;
while (!(url = /dashboard: (http\S+)/.exec(stderr)?.[1])) await new Promise((r) => setTimeout(r, 100));

const browser = await chromium.launch({ executablePath: process.env.HYDRA_CHROMIUM ?? '/usr/bin/chromium' });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(url);
// Part-way: some models stopped early, and a survivor is past the second rung.
await page.waitForFunction(() => { const v = window.hydraDashboard?.view; return v && v.models.some((m) => m.status === 'stopped-early') && v.models.some((m) => m.losses.length > 9); }, null, { timeout: 0 });
await new Promise((r) => setTimeout(r, 500));
await page.screenshot({ path: join(repo, 'docs/dashboard-live.png'), fullPage: true });
console.error(`exit ${await exited}`);
await page.goto(pathToFileURL(join(out, 'report.html')).href);
await page.waitForFunction(() => (window.hydraDashboard?.rendered ?? 0) > 0);
await page.screenshot({ path: join(repo, 'docs/report.png'), fullPage: true });
await browser.close();
console.error(`wrote docs/dashboard-live.png and docs/report.png (run in ${out})`);
