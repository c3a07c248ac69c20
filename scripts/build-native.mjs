// Builds the native cpu backend (build/Release/hydra_cpu.node). Runs as the package's npm "install" script and
// never fails the installation: without a toolchain, or when the build breaks, it prints what to install and exits
// 0 (the pure-TypeScript 'js' backend then serves). The outcome is recorded in build/hydra-native.json, which the
// tests read to tell "no toolchain here" (skip) from "the build should have worked" (fail).
//
// Steps: probe the C++17 compiler ($CXX or c++), make and python3 (node-gyp needs both); probe OpenBLAS (cblas.h +
// libopenblas, via pkg-config or the usual places) unless HYDRA_NO_OPENBLAS=1; probe -march=native; run node-gyp
// with the choices in HYDRA_* variables (read by binding.gyp); load the result in a child process to be sure it
// links. If the OpenBLAS build fails, retry once with the built-in GEMM (native/sgemm-builtin.cc).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(root, 'build', 'Release', 'hydra_cpu.node');
const statusPath = join(root, 'build', 'hydra-native.json');
const INSTALL_HINT = 'apt-get install g++ make python3 libopenblas-dev';
const cxx = process.env.CXX || 'c++';

const log = (msg) => console.log(`hydra-dl native: ${msg}`);
const warn = (msg) => console.warn(`hydra-dl native: WARNING: ${msg}`);

function writeStatus(status) {
  mkdirSync(dirname(statusPath), { recursive: true });
  writeFileSync(statusPath, JSON.stringify({ ...status, at: new Date().toISOString() }, null, 2) + '\n');
}

function giveUp(reason, toolchainMissing) {
  warn(`the native cpu backend was NOT built: ${reason}`);
  warn(`to build it, install the toolchain (${INSTALL_HINT}) and run \`node scripts/build-native.mjs\` here.`);
  warn(`until then the 'js' backend serves (correct, but much slower); 'cpu' reports itself unavailable.`);
  writeStatus({ ok: false, reason, toolchainMissing });
  rmSync(probeDir, { recursive: true, force: true });
  process.exit(0);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

// Compiles (and optionally runs) a probe program; CXX may carry arguments ("ccache g++"), hence the shell.
const probeDir = mkdtempSync(join(tmpdir(), 'hydra-native-probe-'));
function probe(name, source, flags, { execute = false } = {}) {
  const src = join(probeDir, `${name}.cc`), exe = join(probeDir, name);
  writeFileSync(src, source);
  const compiled = run(`${cxx} -std=c++17 -pthread ${flags.cflags ?? ''} "${src}" -o "${exe}" ${flags.libs ?? ''}`, [], { shell: true });
  if (!compiled.ok || !execute) return compiled;
  return run(exe, []);
}

function findOpenBlas() {
  if (process.env.HYDRA_NO_OPENBLAS === '1') {
    log('HYDRA_NO_OPENBLAS=1: not looking for OpenBLAS');
    return null;
  }
  const candidates = [];
  const pc = run('pkg-config', ['--cflags', '--libs', 'openblas']);
  if (pc.ok) {
    const cf = run('pkg-config', ['--cflags', 'openblas']).out.trim(), libs = run('pkg-config', ['--libs', 'openblas']).out.trim();
    candidates.push({ cflags: cf, libs });
  }
  candidates.push({ cflags: '', libs: '-lopenblas' });
  for (const prefix of ['/usr', '/usr/local', '/opt/homebrew/opt/openblas', '/usr/local/opt/openblas']) {
    candidates.push({ cflags: `-I${prefix}/include/openblas`, libs: `-L${prefix}/lib -lopenblas` });
    candidates.push({ cflags: `-I${prefix}/include`, libs: `-L${prefix}/lib -lopenblas` });
  }
  const source = `#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
int main() {
  float a = 2, b = 3, c = 0;
  openblas_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  return c == 6.0f ? 0 : 1;
}
`;
  for (const flags of candidates) {
    if (probe('openblas', source, flags, { execute: true }).ok) return flags;
  }
  return null;
}

function nodeGypCommand() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return process.env.npm_config_node_gyp || null;
  }
}

function nodedirArgs() {
  // npm passes its `nodedir` config down; when run directly, use the headers installed next to this node binary
  // (so node-gyp never needs to download them).
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function build(nodeGyp, blas, blasFlags, archFlags) {
  log(`building with ${blas === 'openblas' ? `OpenBLAS (${blasFlags.libs})` : 'the built-in GEMM'}${archFlags ? `, ${archFlags}` : ''} ...`);
  const env = {
    ...process.env,
    HYDRA_BLAS: blas,
    HYDRA_BLAS_CFLAGS: blasFlags?.cflags ?? '',
    HYDRA_BLAS_LIBS: blasFlags?.libs ?? '',
    HYDRA_ARCH_FLAGS: archFlags,
  };
  const jobs = String(Math.max(1, Math.min(availableParallelism(), 8)));
  const r = run(process.execPath, [nodeGyp, 'rebuild', '-j', jobs, ...nodedirArgs()], { cwd: root, env });
  if (!r.ok) return { ok: false, out: r.out };
  // Load it in a separate process: a library that links but does not load (missing .so at run time) counts as failed.
  const check = run(process.execPath, ['-e', `const a = require(${JSON.stringify(addonPath)}); if (typeof a.CpuDevice !== 'function') process.exit(3); process.stdout.write(a.blas);`]);
  return check.ok ? { ok: true, blas: check.out.trim() } : { ok: false, out: `the built addon does not load: ${check.out}` };
}

function lastLines(text, n = 25) {
  return text.trim().split('\n').slice(-n).join('\n');
}

try {
  const hello = probe('hello', '#include <thread>\nint main() { std::thread t([] {}); t.join(); return 0; }\n', {});
  if (!hello.ok) giveUp(`no working C++17 compiler (tried \`${cxx}\`): ${lastLines(hello.out, 3) || 'it failed without printing anything'}`, true);
  if (!run('make', ['--version']).ok && process.platform !== 'win32') giveUp('`make` is not installed', true);
  const python = process.env.PYTHON || 'python3';
  if (!run(python, ['--version']).ok) giveUp(`\`${python}\` is not installed (node-gyp needs Python 3)`, true);
  const nodeGyp = nodeGypCommand();
  if (!nodeGyp) giveUp('node-gyp is not installed (npm install node-gyp)', true);

  let archFlags = process.env.HYDRA_ARCH_FLAGS;
  if (archFlags === undefined) archFlags = probe('march', 'int main() { return 0; }\n', { cflags: '-march=native' }).ok ? '-march=native' : '';

  const openblas = findOpenBlas();
  if (!openblas && process.env.HYDRA_NO_OPENBLAS !== '1') {
    log(`OpenBLAS not found (cblas.h + libopenblas); using the built-in GEMM instead (slower; for full speed: apt-get install libopenblas-dev)`);
  }
  let result = openblas ? build(nodeGyp, 'openblas', openblas, archFlags) : { ok: false, skipped: true };
  if (!result.ok && openblas) {
    warn(`the OpenBLAS build failed; retrying with the built-in GEMM. node-gyp said:\n${lastLines(result.out)}`);
  }
  if (!result.ok) result = build(nodeGyp, 'builtin', null, archFlags);
  if (!result.ok) giveUp(`the build failed. node-gyp said:\n${lastLines(result.out)}`, false);

  writeStatus({ ok: true, blas: result.blas, archFlags });
  log(`built ${addonPath} (blas=${result.blas}${result.blas === 'builtin' ? ': built-in blocked GEMM, OpenBLAS was not used' : ''})`);
} catch (e) {
  giveUp(`unexpected error: ${e instanceof Error ? e.message : String(e)}`, false);
} finally {
  rmSync(probeDir, { recursive: true, force: true });
}
