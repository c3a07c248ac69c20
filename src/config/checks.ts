/**
 * Field validators. Each takes the raw value and its path and returns the typed value or throws a ConfigError that
 * says what is accepted. Validators are values so the hyper-parameter table and the grid share them.
 */
import { ConfigError, describeValue, expected, joinPath } from './errors.js';

export interface Check<T> {
  (value: unknown, path: string): T;
  /** What the check accepts, for messages ('a positive number'). */
  readonly accepts: string;
}

function check<T>(accepts: string, ok: (v: unknown) => v is T): Check<T> {
  const fn = (value: unknown, path: string): T => {
    if (!ok(value)) throw expected(path, accepts, value);
    return value;
  };
  return Object.assign(fn, { accepts });
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export const positiveNumber = check('a positive number', (v): v is number => isNum(v) && v > 0);
export const nonNegativeNumber = check('a number >= 0', (v): v is number => isNum(v) && v >= 0);
export const positiveInt = check('a positive integer', (v): v is number => isNum(v) && Number.isInteger(v) && v >= 1);
export const nonNegativeInt = check('an integer >= 0', (v): v is number => isNum(v) && Number.isInteger(v) && v >= 0);
/** Seeds feed a 32-bit counter-based generator. */
export const seedInt = check('an integer in [0, 4294967295]', (v): v is number => isNum(v) && Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
export const unitOpen = check('a number in [0, 1)', (v): v is number => isNum(v) && v >= 0 && v < 1);
export const unitClosed = check('a number in [0, 1]', (v): v is number => isNum(v) && v >= 0 && v <= 1);
export const boolean = check('true or false', (v): v is boolean => typeof v === 'boolean');
export const nonEmptyString = check('a non-empty string', (v): v is string => typeof v === 'string' && v.trim() !== '');

export function oneOf<T extends string>(choices: readonly T[]): Check<T> {
  return check(`one of ${choices.join(', ')}`, (v): v is T => typeof v === 'string' && (choices as readonly string[]).includes(v));
}

/** A plain mapping (not an array, not null). */
export function mapping(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw expected(path || 'the document', 'a mapping of fields (key: value)', value);
  }
  return value as Record<string, unknown>;
}

/** Reject keys outside `accepted`, naming the field and listing what is accepted there. */
export function onlyKeys(obj: Record<string, unknown>, path: string, accepted: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!accepted.includes(key)) {
      const where = path ? `in ${path}` : 'at the top level';
      throw new ConfigError(joinPath(path, key), `unknown field (value ${describeValue(obj[key])}); accepted ${where}: ${accepted.join(', ')}`);
    }
  }
}
