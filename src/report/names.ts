/**
 * File-system names for models. Model names are made for people ('lr=3e-4,bs=8'); directories need names that are
 * safe on every common file system and distinct even where the file system ignores case.
 */

const UNSAFE = /[^A-Za-z0-9._=,+-]/g;
const MAX_LENGTH = 120;

export function fsSafeName(name: string): string {
  let s = name.replace(UNSAFE, '_');
  // A leading dot hides the directory; '.' and '..' are not names at all.
  s = s.replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  if (s.length > MAX_LENGTH) s = s.slice(0, MAX_LENGTH);
  return s === '' ? '_' : s;
}

/** Safe names for all models, made distinct (case-insensitively) by a numeric suffix where they would collide. */
export function fsSafeNames(names: readonly string[]): Map<string, string> {
  const taken = new Set<string>();
  const out = new Map<string, string>();
  for (const name of names) {
    const base = fsSafeName(name);
    let candidate = base;
    for (let i = 2; taken.has(candidate.toLowerCase()); i++) candidate = `${base}~${i}`;
    taken.add(candidate.toLowerCase());
    out.set(name, candidate);
  }
  return out;
}
