/**
 * A fresh (not --resume) run in an output directory that holds an earlier run: the earlier run's files are moved,
 * all together, into `<out_dir>/previous/<time>/`, so the new run never mixes its events, results or weights with
 * the old ones (and a new run killed early leaves no stale results.json beside its own events). Nothing is deleted.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** What a run writes into its output directory (the lock file excepted). */
export const RUN_ENTRIES = ['results.json', 'results.csv', 'events.jsonl', 'models', 'checkpoints', 'job.json', 'report.html'] as const;

export interface MovedRun {
  /** Where the earlier run's files now are. */
  dir: string;
  entries: string[];
}

/** Move an earlier run's files aside; null when the directory holds none. */
export function movePreviousRun(outDir: string, now = new Date()): MovedRun | null {
  const present = RUN_ENTRIES.filter((e) => existsSync(join(outDir, e)));
  if (present.length === 0) return null;
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let dir = join(outDir, 'previous', stamp);
  for (let i = 2; existsSync(dir); i++) dir = join(outDir, 'previous', `${stamp}-${i}`);
  mkdirSync(dir, { recursive: true });
  for (const e of present) {
    try {
      renameSync(join(outDir, e), join(dir, e));
    } catch (err) {
      throw new Error(`cannot move the earlier run's ${join(outDir, e)} to ${dir} (${(err as Error).message}); move or remove it, or continue that run with --resume`);
    }
  }
  return { dir, entries: present };
}
