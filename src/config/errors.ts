/**
 * Config errors name the field path, the offending value and what is accepted, e.g.
 *   grid.lr[2]: expected a positive number, got "fast"
 * so a user can fix the file without reading the source.
 */
export class ConfigError extends Error {
  constructor(
    /** Dotted path of the field, e.g. 'grid.lr[2]' ('' for the whole document). */
    readonly path: string,
    /** What went wrong, without the path. */
    readonly detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'ConfigError';
  }

  /** The same error with a prefix (the config file's name) in front of the message. */
  withSource(source: string): ConfigError {
    const e = new ConfigError(this.path, this.detail);
    e.message = `${source}: ${this.message}`;
    return e;
  }
}

/** A short, unambiguous rendering of a config value for messages: strings quoted, containers as JSON. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function expected(path: string, what: string, got: unknown): ConfigError {
  return new ConfigError(path, `expected ${what}, got ${describeValue(got)}`);
}

/** Path of a child field: joinPath('grid', 'lr') = 'grid.lr', joinPath('grid.lr', 2) = 'grid.lr[2]'. */
export function joinPath(parent: string, child: string | number): string {
  if (typeof child === 'number') return `${parent}[${child}]`;
  return parent ? `${parent}.${child}` : child;
}
