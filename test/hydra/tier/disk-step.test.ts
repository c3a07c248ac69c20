/**
 * The streamed optimizer step (tier/disk-step.ts): values, gradient and moments read from a scratch file a chunk at a
 * time, stepped by the same kernel and written back, end bitwise equal to the same steps on whole arrays in RAM —
 * AdamW and SGD with momentum, a chunk that does not divide the length, values in RAM or on disk, several steps. The
 * chunk buffer's arrays are block-aligned, so a step's reads and writes take no bounce copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../../src/backend/js.js';
import { cpuAddonInfo, loadCpuAddon } from '../../../src/backend/native-loader.js';
import { ADAMW_DEFAULTS, applyUpdateHost, type OptimizerConfig } from '../../../src/optim/optimizer.js';
import { ChunkBuffer, streamStep, type IoCount } from '../../../src/hydra/tier/disk-step.js';
import { ScratchFile } from '../../../src/hydra/tier/scratch-file.js';

const N = 1003, CHUNK = 64;

function filled(seed: number): Float32Array {
  const a = new Float32Array(N);
  for (let i = 0; i < N; i++) a[i] = Math.sin(seed * 1000 + i) * 0.5;
  return a;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

for (const cfg of [{ ...ADAMW_DEFAULTS, lr: 1e-2 }, { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }] as OptimizerConfig[]) {
  for (const values of ['in RAM', 'on disk', 'in RAM, written through to disk'] as const) {
    const valuesOnDisk = values === 'on disk', through = values !== 'in RAM' && !valuesOnDisk;
    test(`${cfg.kind}: a step streamed in ${CHUNK}-element chunks from disk (values ${values}) is bitwise the in-RAM step`, async () => {
      const be = new JsBackend();
      const states = cfg.kind === 'adamw' ? 2 : 1;
      const dir = mkdtempSync(join(tmpdir(), 'hydra-step-'));
      const stride = 4096 * Math.ceil((N * 4) / 4096);
      const file = await ScratchFile.create(dir);
      const ref = { p: filled(1), s: Array.from({ length: states }, () => new Float32Array(N)) };
      const hostP = filled(1);
      if (valuesOnDisk) await file.write(hostP, 0);
      const buf = new ChunkBuffer(new ArrayBuffer(2 * (2 + states) * CHUNK * 4), CHUNK, 2 + states);
      const io: IoCount = { read: 0, written: 0 };
      for (let t = 1; t <= 3; t++) {
        const g = filled(10 + t);
        const args = { lr: cfg.lr, t, gradScale: 0.7, decay: true };
        applyUpdateHost(be, cfg, ref.p, g, ref.s, N, args);
        await file.write(g, stride);
        await streamStep(be, cfg, {
          param: valuesOnDisk ? { file, offset: 0 } : through ? { host: hostP, through: { file, offset: 0 } } : { host: hostP },
          grad: { file, offset: stride },
          states: ref.s.map((_, i) => ({ file, offset: stride * (2 + i) })),
        }, N, args, buf, io);
      }
      const got = valuesOnDisk ? new Float32Array(N) : hostP;
      if (valuesOnDisk) await file.read(got, 0);
      assert.ok(bits(got).equals(bits(ref.p)), 'parameter values');
      if (through) {
        const copy = new Float32Array(N);
        await file.read(copy, 0);
        assert.ok(bits(copy).equals(bits(ref.p)), 'the copy written through to disk');
      }
      for (let i = 0; i < states; i++) {
        const s = new Float32Array(N);
        await file.read(s, stride * (2 + i));
        assert.ok(bits(s).equals(bits(ref.s[i])), `optimizer state ${i}`);
      }
      assert.equal(io.read, 3 * N * 4 * (1 + states + (valuesOnDisk ? 1 : 0)));
      assert.equal(io.written, 3 * N * 4 * (states + (valuesOnDisk || through ? 1 : 0)));
      await file.remove();
    });
  }
}

test('chunk buffer: every array starts at a 4 KiB-aligned address and holds whole blocks, so a streamed step of whole blocks bounces nothing', async (t) => {
  const info = cpuAddonInfo();
  if (!info.available) return t.skip(`the native addon is not built: ${info.reason}`);
  const addon = loadCpuAddon();
  const chunk = 4096, arrays = 4;
  const buf = new ChunkBuffer(new SharedArrayBuffer(2 * arrays * chunk * 4), chunk, arrays);
  assert.ok(buf.chunk % 1024 === 0 && buf.chunk >= chunk - 1024, `chunk ${buf.chunk}`);
  await buf.exclusive(async (sets) => {
    for (const a of sets.flat()) assert.equal(addon.directAddressMod(new Uint8Array(a.buffer, a.byteOffset, 1)), 0, `array at byte ${a.byteOffset}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'hydra-step-'));
  const file = await ScratchFile.create(dir);
  try {
    if (!file.mode.direct) return t.skip(`${tmpdir()} refuses O_DIRECT (${file.mode.why}): there is no bounce to avoid`);
    const n = 5 * 4096, cfg = { ...ADAMW_DEFAULTS, lr: 1e-2 }, be = new JsBackend();
    const ref = { p: Float32Array.from({ length: n }, (_, i) => Math.sin(i)), s: [new Float32Array(n), new Float32Array(n)] };
    const g = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    await file.write(ref.p, 0);
    await file.write(g, n * 4);
    const args = { lr: cfg.lr, t: 1, gradScale: 1, decay: true };
    const before = addon.directStats().bounced;
    await streamStep(be, cfg, { param: { file, offset: 0 }, grad: { file, offset: n * 4 }, states: [{ file, offset: 2 * n * 4 }, { file, offset: 3 * n * 4 }] }, n, args, buf, { read: 0, written: 0 });
    assert.equal(addon.directStats().bounced - before, 0, 'no byte went through the bounce buffer');
    applyUpdateHost(be, cfg, ref.p, g, ref.s, n, args);
    const got = new Float32Array(n);
    await file.read(got, 0);
    assert.ok(bits(got).equals(bits(ref.p)), 'bitwise the in-RAM step');
  } finally {
    await file.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
