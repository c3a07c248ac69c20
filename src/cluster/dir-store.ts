/** A store in a shared directory (a local disk in tests, NFS or similar across machines): keys are relative paths. */
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { tempPathFor, writeFileAtomic } from '../data/atomic-write.js';
import type { Store } from './store.js';

export class DirStore implements Store {
  readonly root: string;
  readonly display: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.display = this.root;
  }

  private path(key: string): string {
    if (key === '' || key.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`store key '${key}' is not a plain relative path`);
    return join(this.root, ...key.split('/'));
  }

  async putBytes(key: string, data: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path(key), [data]);
  }

  async putFile(key: string, localPath: string): Promise<void> {
    await copyAtomic(localPath, this.path(key));
  }

  async getBytes(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async getFile(key: string, localPath: string): Promise<boolean> {
    try {
      await copyAtomic(this.path(key), localPath);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.path(key));
      return true;
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    // List the deepest directory the prefix names, then filter by the rest of the prefix.
    const cut = prefix.lastIndexOf('/');
    const dir = cut < 0 ? this.root : join(this.root, ...prefix.slice(0, cut).split('/'));
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // temp files of writes in progress
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(dir);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}

/** Copy to a temp name beside the destination, then rename: readers never see a partial file. */
async function copyAtomic(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const tmp = tempPathFor(to);
  try {
    await copyFile(from, tmp);
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync(); // a machine that dies after the rename must not leave a renamed but empty checkpoint
    } finally {
      await fh.close();
    }
    await rename(tmp, to);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
