/**
 * Checking a job's output directory before anything else happens (before data is read or a model is planned), so a
 * bad `out_dir` fails within a second with an error that says what is wrong with it:
 *   - not under /proc, /sys or /dev (pseudo file systems: Node 20's recursive mkdir loops forever under /proc);
 *   - every existing part of the path is a directory (a file in its place is named);
 *   - the directory, or the nearest existing parent it will be created in, is writable (read-only file system or
 *     permissions are told apart).
 * `prepareOutDir` then creates the missing parts one level at a time (never `mkdir -p`, for the same /proc reason).
 */
import { accessSync, constants, mkdirSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { ConfigError } from '../config/errors.js';

/** Mount points of kernel pseudo file systems: nothing a job writes belongs there. */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];
/** statfs f_type of proc, sysfs, cgroup, cgroup2, devpts, debugfs, tracefs, securityfs (linux/magic.h). */
const PSEUDO_FS_TYPES = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x1cd1, 0x64626720, 0x74726163, 0x73636673]);

const under = (p: string, root: string): boolean => p === root || p.startsWith(root + sep);

function refuse(field: string, dir: string, why: string): never {
  throw new ConfigError(field, `${dir}: ${why}`);
}

function pseudoRoot(p: string): string | undefined {
  return PSEUDO_ROOTS.find((r) => under(p, r));
}

/** The path's nearest existing ancestor (or itself), checking that each existing part is a directory. */
function nearestExisting(dir: string, field: string): { path: string; exists: boolean } {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        const parent = dirname(p);
        if (parent === p) refuse(field, dir, 'no part of this path exists');
        missing.push(p);
        p = parent;
        continue;
      }
      if (code === 'ENOTDIR') {
        // A file further up: find it so the message names it.
        missing.push(p);
        p = dirname(p);
        continue;
      }
      refuse(field, dir, `cannot examine ${p} (${code ?? (err as Error).message})`);
    }
    if (!isDir) {
      refuse(field, dir, p === dir ? 'exists and is a file, not a directory' : `${p} is a file, so the directory cannot be created under it`);
    }
    return { path: p, exists: missing.length === 0 };
  }
}

/**
 * Validate an output directory without creating anything. `field` names it in errors ('out_dir' or '--out').
 * Returns the absolute path.
 */
export function validateOutDir(outDir: string, field = 'out_dir'): string {
  const dir = resolve(outDir);
  const root = pseudoRoot(dir);
  if (root) refuse(field, dir, `is under ${root}, a kernel pseudo file system; choose a directory on a real disk`);
  const near = nearestExisting(dir, field);
  // Symbolic links may lead into a pseudo file system: check where the existing part really is, and its type.
  const real = realpathSync(near.path);
  const realRoot = pseudoRoot(real);
  if (realRoot) refuse(field, dir, `${near.path} resolves to ${real}, under ${realRoot} (a kernel pseudo file system)`);
  try {
    if (PSEUDO_FS_TYPES.has(Number(statfsSync(real).type))) refuse(field, dir, `${near.path} is on a kernel pseudo file system (not a disk)`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // statfs unsupported here: the path checks above stand.
  }
  try {
    accessSync(near.path, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = near.exists ? 'the directory' : `its parent ${near.path}, where it would be created,`;
    if (code === 'EROFS') refuse(field, dir, `${where} is on a read-only file system`);
    if (code === 'EACCES' || code === 'EPERM') refuse(field, dir, `${where} is not writable by this user`);
    refuse(field, dir, `${where} is not writable (${code ?? (err as Error).message})`);
  }
  return dir;
}

/** Validate, then create the directory (and missing parents). Returns the absolute path. */
export function prepareOutDir(outDir: string, field = 'out_dir'): string {
  const dir = validateOutDir(outDir, field);
  const parts: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    try {
      statSync(p);
      break;
    } catch {
      parts.unshift(p);
      if (dirname(p) === p) break;
    }
  }
  for (const p of parts) {
    try {
      mkdirSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') refuse(field, dir, `cannot create ${p} (${code ?? (err as Error).message})`);
    }
  }
  return dir;
}
