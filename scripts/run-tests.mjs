// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner. Node 20's runner does not expand
// globs, so the list is made here. Extra arguments filter by substring: `node scripts/run-tests.mjs backend`.
// A compiled test whose source (test/**/*.test.ts) is gone is stale: it is not run, and the run says so (`npm test`
// cleans dist/ first, so this matters only for a focused run after a plain `npm run build`).
// Every temporary file the tests make (checkpoints, spill files, run directories: gigabytes over a full run) goes
// under one directory of this run (TMPDIR, which os.tmpdir(), Python's tempfile and mktemp all follow), removed when
// the run passes and kept, with its path printed, when it fails.
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const compiled = walk('dist/test');
const source = (f) => f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts');
const stale = compiled.filter((f) => !existsSync(source(f)));
if (stale.length > 0) console.error(`run-tests: not running ${stale.length} compiled test(s) whose source is gone: ${stale.join(', ')}`);
const files = compiled
  .filter((f) => !stale.includes(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), 'hydra-tests-'));
// As /tmp itself (sticky, open to all): tests that run a step as another user (an unwritable out_dir) must reach it.
chmodSync(scratch, 0o1777);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env: { ...process.env, TMPDIR: scratch } });
if (r.status === 0) rmSync(scratch, { recursive: true, force: true });
else console.error(`run-tests: the tests' temporary files are kept in ${scratch}`);
process.exit(r.status ?? 1);
