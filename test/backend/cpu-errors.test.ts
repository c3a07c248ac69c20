/** The cpu backend's contract at its edges: names, option validation, clear errors for bad shapes and indices. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuBlas, createCpuBackend, measureSgemmGflops } from '../../src/backend/cpu.js';
import { JsBackend } from '../../src/backend/js.js';

test('cpu: name states threads and BLAS; kind and threads are set', () => {
  const be = createCpuBackend({ threads: 2 });
  try {
    assert.equal(be.name, `cpu(threads=2, blas=${cpuBlas()})`);
    assert.ok(['openblas', 'builtin'].includes(cpuBlas()));
    assert.equal(be.kind, 'cpu');
    assert.equal(be.threads, 2);
  } finally {
    be.dispose();
  }
});

test('cpu: invalid thread counts are refused with the accepted range', () => {
  for (const threads of [0, -1, 1.5, NaN, 5000]) {
    assert.throws(() => createCpuBackend({ threads }), /threads must be an integer in \[1, 1024\]/);
  }
});

test('cpu: measureSgemmGflops returns a positive figure', () => {
  const g = measureSgemmGflops(32, 1);
  assert.ok(Number.isFinite(g) && g > 0, `got ${g}`);
  assert.throws(() => measureSgemmGflops(4, 1), /n must be in \[16, 8192\]/);
});

test('cpu: kernels refuse buffers that are too small, foreign or freed, naming the argument', () => {
  const be = createCpuBackend({ threads: 1 });
  try {
    const a = be.alloc(12), b = be.alloc(12), c = be.alloc(8);
    assert.throws(() => be.gemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3), /cpu\.gemm: C needs 9 elements .* has 8/);
    assert.throws(() => be.gemm(false, false, 3, 3, 4, 1, a, 2, b, 3, 0, c, 3), /lda = 2 is less than the 4 columns/);
    assert.throws(() => be.gemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3, 0, 0, -1), /offC must be a non-negative integer/);
    assert.throws(() => be.add(a, b, c, 12), /cpu\.add: b needs 12 elements/);
    const foreign = new JsBackend().alloc(12);
    assert.throws(() => be.scale(foreign, 2), /belongs to another backend/);
    be.free(c);
    assert.throws(() => be.scale(c, 2), /freed buffer/);
    assert.throws(() => be.free(c), /double free/);
    const i = be.alloc(4, 'i32');
    assert.throws(() => be.scale(i, 2), /x must be an f32 buffer, got i32/);
  } finally {
    be.dispose();
  }
});

test('cpu: out-of-range token ids and targets are errors, not memory reads', async () => {
  const be = createCpuBackend({ threads: 1 });
  try {
    const tokens = be.alloc(2, 'i32'), out = be.alloc(2 * 4), wte = be.alloc(5 * 4), wpe = be.alloc(2 * 4);
    await be.upload(tokens, Int32Array.of(1, 5));
    assert.throws(() => be.embeddingForward(out, tokens, wte, wpe, 1, 2, 4), /tokens\[1\] = 5 is outside \[0, 5\)/);
    const logits = be.alloc(2 * 3), losses = be.alloc(2), lse = be.alloc(2), targets = be.alloc(2, 'i32');
    await be.upload(targets, Int32Array.of(-1, 3));
    assert.throws(() => be.crossEntropyForward(losses, lse, logits, targets, 2, 3), /targets\[1\] = 3 is outside/);
  } finally {
    be.dispose();
  }
});

test('cpu: a missing addon makes createBackend throw BackendUnavailableError with the install hint', () => {
  const index = new URL('../../src/backend/index.js', import.meta.url).href;
  const script = `import(${JSON.stringify(index)}).then(async (m) => {
    try { await m.createBackend('cpu'); console.log('created'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, kind: e.kind, message: e.message })); }
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, HYDRA_CPU_ADDON: fileURLToPath(new URL('./no-such-addon.node', import.meta.url)) },
  });
  const err = JSON.parse(r.stdout.trim());
  assert.equal(err.name, 'BackendUnavailableError');
  assert.equal(err.kind, 'cpu');
  assert.match(err.message, /apt-get install g\+\+ make python3 libopenblas-dev/);
  assert.match(err.message, /no-such-addon\.node is missing/);
});
