/**
 * Paths written in a config file resolve against the file's own directory, so a config can be run from anywhere
 * (`hydra train examples/grid-tiny.yaml` from the repository root reads examples/data/...). Errors say so.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { nonEmptyString } from './checks.js';

export type PathKind = 'file' | 'dir' | 'any';

export interface ResolveOptions {
  /** Require the path to exist as this kind ('any': no check; the path may be created later). */
  mustExist?: PathKind;
}

export function resolveConfigPath(value: unknown, path: string, baseDir: string, opts: ResolveOptions = {}): string {
  const raw = nonEmptyString(value, path);
  const abs = isAbsolute(raw) ? raw : resolve(baseDir, raw);
  const kind = opts.mustExist ?? 'any';
  if (kind === 'any') return abs;
  const where = isAbsolute(raw) ? '' : ` (relative paths resolve against the config file's directory, ${baseDir})`;
  if (!existsSync(abs)) throw new ConfigError(path, `no such ${kind === 'dir' ? 'directory' : 'file'}: ${abs}${where}`);
  const isDir = statSync(abs).isDirectory();
  if (kind === 'file' && isDir) throw new ConfigError(path, `expected a file, got a directory: ${abs}${where}`);
  if (kind === 'dir' && !isDir) throw new ConfigError(path, `expected a directory, got a file: ${abs}${where}`);
  return abs;
}
