/** Without the native addon (no compiler at install), a job asked for cpu devices runs on js, saying what to install. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('train(): cpu devices without the addon fall back to js with a warning naming what to install', () => {
  const train = new URL('../../src/hydra/job/train.js', import.meta.url).href;
  const helpers = new URL('./helpers.js', import.meta.url).href;
  const script = `
    const { train } = await import(${JSON.stringify(train)});
    const { tinyTask } = await import(${JSON.stringify(helpers)});
    const logs = [];
    const r = await train([tinyTask('m', { steps: 2 })], { devices: 'cpu:2x1', deviceMemory: 90000, planDir: null, onEvent: (e) => e.type === 'log' && logs.push(e.message) });
    console.log(JSON.stringify({ status: r.models[0].status, steps: r.models[0].steps, backend: r.models[0].plan.backend, logs }));`;
  // A file, not -e: device workers inherit the parent's execArgv, and --input-type would break them.
  const file = join(mkdtempSync(join(tmpdir(), 'hydra-fallback-')), 'job.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    env: { ...process.env, HYDRA_CPU_ADDON: fileURLToPath(new URL('./no-such-addon.node', import.meta.url)) },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim());
  assert.equal(out.status, 'done');
  assert.equal(out.steps, 2);
  assert.match(out.backend, /^js/);
  // Besides the set-up progress lines, one warning; and initialisation says it ran in JavaScript.
  const warnings = (out.logs as string[]).filter((l) => l.startsWith('warning'));
  assert.equal(warnings.length, 1, out.logs.join('\n'));
  assert.match(warnings[0], /apt-get install g\+\+ make python3 libopenblas-dev/);
  assert.match(warnings[0], /running the 2 devices on the slower js backend instead/);
  assert.ok((out.logs as string[]).some((l) => / initialised in .*JavaScript: the cpu addon is missing/.test(l)), out.logs.join('\n'));
});
