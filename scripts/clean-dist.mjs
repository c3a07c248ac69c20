// `npm test` starts from an empty dist/: tsc never deletes outputs, so a test (or module) removed from the sources
// would otherwise keep running from its stale compiled copy.
// It also rebuilds the native addon when a native source is newer than it: `npm run build` compiles TypeScript only,
// so a checkout whose native/ changed (a pull, a rebase) would otherwise test the old kernels.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

const root = new URL('..', import.meta.url).pathname;
const addon = `${root}build/Release/hydra_cpu.node`;
if (existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  const sources = [...readdirSync(`${root}native`).map((f) => `${root}native/${f}`), `${root}binding.gyp`, `${root}scripts/build-native.mjs`];
  const stale = sources.filter((f) => existsSync(f) && statSync(f).mtimeMs > built);
  if (stale.length > 0) {
    console.error(`native addon older than ${stale.length} source file(s) (e.g. ${stale[0].slice(root.length)}): rebuilding`);
    const r = spawnSync(process.execPath, [`${root}scripts/build-native.mjs`], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
