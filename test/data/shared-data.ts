/**
 * Where the shared WikiText-2 files are: `../shared/data/wikitext-2` relative to the working directory (the layout
 * the project is developed in: kept relative so tests also exercise relative-path resolution), next to the
 * repository, `$HYDRA_SHARED_DATA/wikitext-2`, or `/work/shared/data/wikitext-2`. null when none has the file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../../../', import.meta.url).pathname;

export function wikitextFile(name: 'valid.txt' | 'test.txt'): string | null {
  const candidates = [
    join('..', 'shared', 'data', 'wikitext-2', name),
    join(REPO, '..', 'shared', 'data', 'wikitext-2', name),
    ...(process.env.HYDRA_SHARED_DATA ? [join(process.env.HYDRA_SHARED_DATA, 'wikitext-2', name)] : []),
    join('/work', 'shared', 'data', 'wikitext-2', name),
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}

export const WIKITEXT_MISSING = 'WikiText-2 (../shared/data/wikitext-2) is not on this machine; set HYDRA_SHARED_DATA to its data directory';
