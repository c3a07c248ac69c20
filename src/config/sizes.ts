/** Byte sizes in configs and flags: '64MiB', '2GiB', '500MB', '1.5G', or a plain byte count. */
import { parseBytes } from '../hydra/units.js';
import type { Check } from './checks.js';
import { expected } from './errors.js';

const ACCEPTS = "a size like '64MiB', '2GiB', '500MB' or a positive byte count (at most 8 PiB)";
/** Sizes are byte counts held in doubles: beyond 2^53 (8 PiB) they stop being exact ('1e400TB' is Infinity). */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

function checkSize(value: unknown, path: string): number {
  if (typeof value !== 'number' && typeof value !== 'string') throw expected(path, ACCEPTS, value);
  let bytes: number;
  try {
    bytes = parseBytes(value, path);
  } catch {
    throw expected(path, ACCEPTS, value);
  }
  // '0.1B' would floor to nothing: a budget of zero bytes is never what was meant.
  if (!(bytes >= 1) || !(bytes <= MAX_BYTES)) throw expected(path, ACCEPTS, value);
  return bytes;
}

export const size: Check<number> = Object.assign(checkSize, { accepts: ACCEPTS });
