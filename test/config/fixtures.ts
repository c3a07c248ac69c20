/** Temporary directories and config files for config/report/cli tests. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function tempDir(prefix = 'hydra-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeFile(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A small valid config (as data) whose data files exist under `dir`. */
export function baseConfig(dir: string): Record<string, unknown> {
  writeFile(join(dir, 'data/train.txt'), 'hello world\n'.repeat(50));
  writeFile(join(dir, 'data/eval.txt'), 'goodbye world\n'.repeat(20));
  return {
    name: 'unit',
    model: { preset: 'gpt2-tiny', n_ctx: 16, dropout: 0 },
    data: { train: 'data/train.txt', eval: 'data/eval.txt' },
    optimizer: { kind: 'adamw', weight_decay: 0.01 },
    grid: { lr: [3e-4, 1e-4], batch_size: [2, 1] },
    steps: 3,
    devices: 'js:2',
    device_memory: '64MiB',
  };
}
