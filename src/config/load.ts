/** Reading a config file (YAML or JSON) from disk into a validated TrainConfig. */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors.js';
import { parseTrainConfig, type ParseOptions, type TrainConfig } from './schema.js';

const EXTENSIONS = ['.yaml', '.yml', '.json'];

/** Raw data of a YAML or JSON file (JSON is read by the YAML 1.2 parser too; duplicate keys are errors in both). */
export function readConfigData(file: string): unknown {
  const abs = resolve(file);
  const ext = extname(abs).toLowerCase();
  if (!EXTENSIONS.includes(ext)) throw new ConfigError('', `${file}: expected a .yaml, .yml or .json config file`);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError('', `${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    throw new ConfigError('', `${file}: ${ext === '.json' ? 'JSON' : 'YAML'} syntax error${where}: ${e.message.split('\n')[0]}`);
  }
  // An empty file (or one of only comments) parses to null; say so here, where the file's name is known.
  if (doc.contents === null) throw new ConfigError('', `${file}: the config file is empty (expected a mapping of fields such as name, model, data)`);
  return doc.toJS();
}

export interface LoadOptions extends Partial<Omit<ParseOptions, 'baseDir'>> {
  /** Applied to the raw data before validation (CLI flags). */
  transform?: (raw: unknown) => unknown;
}

/** Load, validate and resolve paths (against the file's directory). Errors are prefixed with the file name. */
export function loadTrainConfig(file: string, opts: LoadOptions = {}): TrainConfig {
  const abs = resolve(file);
  let raw = readConfigData(file);
  if (opts.transform) raw = opts.transform(raw);
  try {
    return parseTrainConfig(raw, {
      ...opts,
      baseDir: dirname(abs),
      source: opts.source ?? file,
      defaultName: opts.defaultName ?? basename(abs, extname(abs)),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err.withSource(file);
    throw err;
  }
}
