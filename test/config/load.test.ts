import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadTrainConfig } from '../../src/config/load.js';
import { applyOverrides } from '../../src/config/overrides.js';
import { ConfigError } from '../../src/config/errors.js';
import { baseConfig, tempDir, writeFile } from './fixtures.js';

test('YAML config: paths resolve against the config file directory, name defaults to the file name', () => {
  const dir = tempDir();
  const raw = baseConfig(join(dir, 'cfg'));
  delete raw.name;
  const file = writeFile(join(dir, 'cfg/my-grid.yaml'), stringify(raw));
  const c = loadTrainConfig(file, { cwd: dir });
  assert.equal(c.name, 'my-grid');
  assert.equal(c.data.train, join(dir, 'cfg/data/train.txt'));
  assert.equal(c.outDir, join(dir, 'runs/my-grid'));
});

test('YAML reads 3e-4 as a number; JSON configs work the same', () => {
  const dir = tempDir();
  baseConfig(dir);
  const yamlText = `model: { preset: gpt2-tiny }\ndata: { train: data/train.txt }\ngrid: { lr: [3e-4, 1e-4] }\nbatch_size: 2\ndevice_memory: 64MiB\nout_dir: out\n`;
  const y = loadTrainConfig(writeFile(join(dir, 'a.yaml'), yamlText), { cwd: dir });
  assert.deepEqual(y.grid[0].values, [3e-4, 1e-4]);
  assert.equal(y.outDir, join(dir, 'out'));
  const j = loadTrainConfig(writeFile(join(dir, 'b.json'), JSON.stringify(baseConfig(dir))), { cwd: dir });
  assert.equal(j.grid.length, 2);
});

test('syntax errors and validation errors name the file (and the line for syntax)', () => {
  const dir = tempDir();
  const bad = writeFile(join(dir, 'bad.yaml'), 'model:\n  preset: gpt2-tiny\n  n_ctx: [1, 2\n');
  assert.throws(() => loadTrainConfig(bad), /bad\.yaml: YAML syntax error at line \d+, column \d+/);
  const dup = writeFile(join(dir, 'dup.yaml'), 'steps: 1\nsteps: 2\n');
  assert.throws(() => loadTrainConfig(dup), /dup\.yaml: YAML syntax error.*(duplicate|unique)/i);
  const raw = { ...baseConfig(dir), grid: { lr: [1, 'fast'] } };
  const file = writeFile(join(dir, 'v.yaml'), stringify(raw));
  assert.throws(() => loadTrainConfig(file), (e: unknown) => e instanceof ConfigError && e.message === `${file}: grid.lr[1]: expected a positive number, got "fast"`);
  assert.throws(() => loadTrainConfig(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the config file \(ENOENT\)/);
  assert.throws(() => loadTrainConfig(writeFile(join(dir, 'c.toml'), 'x=1')), /expected a \.yaml, \.yml or \.json config file/);
});

test('CLI overrides replace file fields; bad flags are blamed on the flag', () => {
  const dir = tempDir();
  const raw = { ...baseConfig(dir), epochs: 2 };
  delete (raw as Record<string, unknown>).steps;
  const o = applyOverrides(raw, { devices: 'cpu:4x1', deviceMemory: '1GiB', hostMemory: '2GiB', policy: 'round-robin', out: 'elsewhere', steps: '7' }, '/work/here');
  assert.equal(o.devices, 'cpu:4x1');
  assert.equal(o.device_memory, 1024 ** 3);
  assert.equal(o.host_memory, 2 * 1024 ** 3);
  assert.equal(o.policy, 'round-robin');
  assert.equal(o.out_dir, '/work/here/elsewhere');
  assert.equal(o.steps, 7);
  assert.equal(o.epochs, undefined, '--steps replaces epochs');
  assert.equal((raw as Record<string, unknown>).epochs, 2, 'input not modified');
  assert.throws(() => applyOverrides(raw, { devices: 'tpu:8' }), /^ConfigError: --devices: expected 'cpu:NxT'/);
  assert.throws(() => applyOverrides(raw, { deviceMemory: 'big' }), /--device-memory: expected a size/);
  assert.throws(() => applyOverrides(raw, { policy: 'lifo' }), /--policy: expected one of sharded-lrtf/);
  assert.equal(applyOverrides(raw, { activations: 'offload' }).activations, 'offload');
  assert.throws(() => applyOverrides(raw, { activations: 'stash' }), /--activations: expected one of recompute, offload, got "stash"/);
  assert.throws(() => applyOverrides(raw, { steps: 'ten' }), /--steps: expected a positive integer, got "ten"/);
  assert.throws(() => applyOverrides(raw, { steps: '0' }), /--steps: expected a positive integer, got 0/);
});

test('an empty config file (or one of only comments) is an error naming the file', () => {
  const dir = tempDir();
  for (const text of ['', '# nothing here\n']) {
    const file = writeFile(join(dir, 'empty.yaml'), text);
    assert.throws(() => loadTrainConfig(file), (e: unknown) => e instanceof Error && e.message === `${file}: the config file is empty (expected a mapping of fields such as name, model, data)`);
  }
});

test('an impossibly large size (device_memory: 1e400TB is Infinity) is refused at validation', () => {
  const dir = tempDir();
  for (const v of ['1e400TB', 1e400, '1e20TB']) {
    const file = writeFile(join(dir, 'big.yaml'), stringify({ ...baseConfig(dir), device_memory: v }));
    assert.throws(() => loadTrainConfig(file), (e: unknown) => e instanceof ConfigError && /big\.yaml: device_memory: expected a size like .* \(at most 8 PiB\), got/.test(e.message), String(v));
  }
});
