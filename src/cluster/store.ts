/**
 * The shared store of a cluster: data blobs (by content hash), job specs, segment records and checkpoints. Every
 * machine sees the same keys. Two kinds, chosen by the URL: a shared directory (a path, or file://; NFS-like) and
 * S3-compatible object storage (s3://bucket/prefix). A `put` is atomic in both: a reader sees the whole object or
 * none of it, so an object's existence is a commit point (a checkpoint that exists is complete).
 */
import { DirStore } from './dir-store.js';

export interface Store {
  /** Where it is, for messages (no secrets). */
  readonly display: string;
  putBytes(key: string, data: Uint8Array): Promise<void>;
  putFile(key: string, localPath: string): Promise<void>;
  /** null when the key does not exist. */
  getBytes(key: string): Promise<Buffer | null>;
  /** Copies the object to localPath (atomically); false when the key does not exist. */
  getFile(key: string, localPath: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Keys that start with prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Remove the object; a key that does not exist is not an error. */
  delete(key: string): Promise<void>;
}

export async function openStore(where: string): Promise<Store> {
  if (where.trim() === '') throw new Error(`--store: expected a directory or an s3://bucket/prefix URL, got ''`);
  // The AWS SDK is large: loaded only for an S3 store.
  if (where.startsWith('s3://')) return new (await import('./s3-store.js')).S3Store(where);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where) && !where.startsWith('file://')) {
    throw new Error(`--store: expected a directory, file:// or s3:// URL, got '${where.replace(/\/\/[^@/]*@/, '//***@')}'`);
  }
  return new DirStore(where.startsWith('file://') ? new URL(where).pathname : where);
}

/** Write, read back and remove a probe object: a store that cannot be written fails at start-up, not mid-job. */
export async function checkWritable(store: Store, who: string): Promise<void> {
  const key = `probe/${who.replace(/[^A-Za-z0-9._-]/g, '_')}-${Date.now()}`;
  const payload = Buffer.from(`hydra store probe by ${who}`);
  let written = false;
  try {
    await store.putBytes(key, payload);
    written = true;
    const back = await store.getBytes(key);
    if (!back || !back.equals(payload)) throw new Error('what was written did not read back');
  } catch (e) {
    // A probe that was written but did not read back is still removed (best effort: the store is already failing).
    if (written) await store.delete(key).catch(() => undefined);
    throw new Error(`store ${store.display} is not writable by ${who}: ${e instanceof Error ? e.message : String(e)}`);
  }
  await store.delete(key).catch((e: unknown) => {
    throw new Error(`store ${store.display} is not writable by ${who}: removing the probe object ${key} failed: ${e instanceof Error ? e.message : String(e)}`);
  });
}
