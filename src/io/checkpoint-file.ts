/**
 * Checkpoint files: one safetensors file holding tensors (model parameters, optimizer state such as `opt.m.<name>`
 * — the caller chooses the names) and a JSON `meta` object (data position, RNG counters, optimizer settings, step,
 * config…) in `__metadata__`, with checksums so that damage is detected instead of loaded:
 *
 *   format                    "hydra-checkpoint"
 *   hydra_checkpoint_version  "1"
 *   meta                      JSON.stringify(meta)
 *   meta_sha256               sha256 of that string (UTF-8)
 *   index_sha256              sha256 of the tensor index (one "name\tdtype\tshape\tbegin\tend\n" per tensor, file order)
 *   tensors_sha256            sha256 of the whole tensor byte buffer
 *
 * Together they cover every byte of the file (the header's structure is checked by the safetensors reader, whose
 * strict tiling rule also catches a changed header length). Writes are atomic (temp file in the same directory,
 * fsync, rename, fsync directory), so a crash leaves the previous checkpoint intact. Every failure to read is a
 * CheckpointError naming the file and the problem.
 */
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { MAX_IO_BYTES, writeFileAtomic } from '../data/atomic-write.js';
import type { HostTensor } from './host-tensor.js';
import { planLayout, readSafetensors, readSafetensorsHeader, safetensorsHeader, SafetensorsError, type TensorEntry } from './safetensors.js';
import { tensorBytes, type StreamedTensor, type TensorLike } from './streamed-tensor.js';
import { open, type FileHandle } from 'node:fs/promises';

export const CHECKPOINT_FORMAT = 'hydra-checkpoint';
export const CHECKPOINT_VERSION = '1';

export type CheckpointProblem = 'missing' | 'invalid-file' | 'not-a-checkpoint' | 'checksum' | 'bad-input';

export class CheckpointError extends Error {
  constructor(readonly path: string, readonly problem: CheckpointProblem, detail: string) {
    super(`checkpoint ${path}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointData<M = unknown, T extends TensorLike = HostTensor> {
  /** Read back, tensors are in memory; written, they may be streamed (read in pieces as the file is written). */
  tensors: Map<string, T>;
  /** Any JSON-serialisable value (NaN/Infinity become null, as in JSON). */
  meta: M;
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** hash.update in pieces: Node refuses a single update of 2 GiB or more ('data is too long'). */
function hashBytes(hash: Hash, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.byteLength; off += MAX_IO_BYTES) hash.update(bytes.subarray(off, off + MAX_IO_BYTES));
}

function indexLines(entries: readonly TensorEntry[]): string {
  return entries.map((e) => `${e.name}\t${e.dtype}\t${e.shape.join(',')}\t${e.begin}\t${e.end}\n`).join('');
}

/**
 * Write a checkpoint atomically. Returns the file size in bytes. Streamed tensors pass through memory one piece at a
 * time: the header goes first with a placeholder for the tensor checksum (a sha256 has a fixed length, so the header's
 * does not change) and is rewritten once every byte has been written and hashed.
 */
export async function writeCheckpoint(path: string, data: CheckpointData<unknown, TensorLike>): Promise<{ bytes: number }> {
  let metaJson: string | undefined;
  try {
    metaJson = JSON.stringify(data.meta);
  } catch (err) {
    throw new CheckpointError(path, 'bad-input', `meta is not JSON-serialisable (${(err as Error).message})`);
  }
  if (metaJson === undefined) throw new CheckpointError(path, 'bad-input', 'meta is not JSON-serialisable (got undefined or a function)');
  let layout: ReturnType<typeof planLayout<TensorLike>>;
  try {
    layout = planLayout(data.tensors);
  } catch (err) {
    throw new CheckpointError(path, 'bad-input', (err as Error).message);
  }
  const header = (tensorsSha256: string) => safetensorsHeader(layout.map((l) => l.entry), {
    format: CHECKPOINT_FORMAT,
    hydra_checkpoint_version: CHECKPOINT_VERSION,
    meta: metaJson,
    meta_sha256: sha256(metaJson),
    index_sha256: sha256(indexLines(layout.map((l) => l.entry))),
    tensors_sha256: tensorsSha256,
  });
  const placeholder = header('0'.repeat(64));
  const tensorsHash = createHash('sha256');
  let bytes = placeholder.byteLength;
  await writeFileAtomic(path, (async function* () {
    yield placeholder;
    for await (const piece of tensorBytes(layout.map((l) => l.tensor))) {
      hashBytes(tensorsHash, piece);
      bytes += piece.byteLength;
      yield piece;
    }
  })(), () => {
    const final = header(tensorsHash.digest('hex'));
    if (final.byteLength !== placeholder.byteLength) throw new Error(`checkpoint ${path}: header length changed (${placeholder.byteLength} → ${final.byteLength})`);
    return final;
  });
  return { bytes };
}

function checkedMeta(path: string, metadata: Record<string, string>): unknown {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(path, 'not-a-checkpoint', `__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${CHECKPOINT_FORMAT}" (a plain safetensors file, not a hydra checkpoint?)`);
  }
  if (metadata.hydra_checkpoint_version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(path, 'not-a-checkpoint', `checkpoint version ${JSON.stringify(metadata.hydra_checkpoint_version)} is not readable by this build (reads "${CHECKPOINT_VERSION}")`);
  }
  for (const key of ['meta', 'meta_sha256', 'index_sha256', 'tensors_sha256']) {
    if (typeof metadata[key] !== 'string') throw new CheckpointError(path, 'checksum', `__metadata__.${key} is missing`);
  }
  if (sha256(metadata.meta) !== metadata.meta_sha256) throw new CheckpointError(path, 'checksum', 'meta checksum mismatch (file damaged)');
  try {
    return JSON.parse(metadata.meta);
  } catch (err) {
    throw new CheckpointError(path, 'checksum', `meta is not valid JSON (${(err as Error).message})`);
  }
}

async function withFileErrors<T>(path: string, f: () => Promise<T>): Promise<T> {
  if (!existsSync(path)) throw new CheckpointError(path, 'missing', 'file does not exist');
  try {
    return await f();
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    if (err instanceof SafetensorsError) throw new CheckpointError(path, 'invalid-file', `damaged or truncated: ${err.problem}`);
    throw new CheckpointError(path, 'invalid-file', (err as Error).message);
  }
}

/** Read only the meta (header + meta checksum; tensors are not read or verified). */
export async function readCheckpointMeta<M = unknown>(path: string): Promise<M> {
  return withFileErrors(path, async () => checkedMeta(path, (await readSafetensorsHeader(path)).metadata) as M);
}

export interface ReadCheckpointOptions {
  /** Where to put each tensor (e.g. host-tier shared memory). */
  allocate?: (name: string, elements: number) => Float32Array;
}

/** Read a checkpoint, verifying every checksum before returning anything. */
export async function readCheckpoint<M = unknown>(path: string, options: ReadCheckpointOptions = {}): Promise<CheckpointData<M>> {
  return withFileErrors(path, async () => {
    const header = await readSafetensorsHeader(path);
    const meta = checkedMeta(path, header.metadata) as M;
    if (sha256(indexLines(header.entries)) !== header.metadata.index_sha256) {
      throw new CheckpointError(path, 'checksum', 'tensor index checksum mismatch (names, shapes or offsets damaged)');
    }
    const hash = createHash('sha256');
    const allocate = options.allocate ? (e: TensorEntry, n: number) => options.allocate!(e.name, n) : undefined;
    const contents = await readSafetensors(path, { allocate, onRawBytes: (_e, bytes) => hashBytes(hash, bytes) });
    if (hash.digest('hex') !== header.metadata.tensors_sha256) throw new CheckpointError(path, 'checksum', 'tensor data checksum mismatch (file damaged)');
    return { tensors: contents.tensors, meta };
  });
}

/** Bytes hashed or read per request when a checkpoint is streamed. */
const PIECE_BYTES = 16 << 20;

/**
 * Open a checkpoint without reading it into memory: every checksum is verified first (the tensor bytes hashed in
 * pieces), then each tensor is read in pieces on demand — for state that goes to the disk tier. F32 tensors only
 * (what writeCheckpoint writes).
 */
export async function openCheckpoint<M = unknown>(path: string): Promise<CheckpointData<M, StreamedTensor>> {
  return withFileErrors(path, async () => {
    const header = await readSafetensorsHeader(path);
    const meta = checkedMeta(path, header.metadata) as M;
    if (sha256(indexLines(header.entries)) !== header.metadata.index_sha256) {
      throw new CheckpointError(path, 'checksum', 'tensor index checksum mismatch (names, shapes or offsets damaged)');
    }
    const bad = header.entries.find((e) => e.dtype !== 'F32');
    if (bad) throw new CheckpointError(path, 'invalid-file', `tensor '${bad.name}' is ${bad.dtype}; a checkpoint holds F32 tensors`);
    const end = header.entries.reduce((a, e) => Math.max(a, e.end), 0);
    const hash = createHash('sha256');
    const fh = await open(path, 'r');
    let verified: FileIdentity;
    try {
      verified = identityOf(await fh.stat());
      const buf = new Uint8Array(Math.min(PIECE_BYTES, Math.max(1, end)));
      for (let at = 0; at < end; at += buf.byteLength) {
        const piece = buf.subarray(0, Math.min(buf.byteLength, end - at));
        await readFully(fh, piece, header.dataStart + at, path);
        hash.update(piece);
      }
    } finally {
      await fh.close();
    }
    if (hash.digest('hex') !== header.metadata.tensors_sha256) throw new CheckpointError(path, 'checksum', 'tensor data checksum mismatch (file damaged)');
    const tensors = new Map<string, StreamedTensor>();
    for (const e of header.entries) {
      tensors.set(e.name, {
        shape: e.shape,
        read: async (dst, offset) => {
          const f = await open(path, 'r');
          try {
            // Pieces are read later, by path: a checkpoint written since (the old one renamed to `.last`) would be
            // read at this one's offsets without a word. Only the file whose bytes were verified is read.
            if (!sameFile(identityOf(await f.stat()), verified)) {
              throw new CheckpointError(path, 'invalid-file', 'the file was replaced or changed after its checksums were verified; open it again');
            }
            await readFully(f, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength), header.dataStart + e.begin + offset * 4, path);
          } finally {
            await f.close();
          }
        },
      });
    }
    return { tensors, meta };
  });
}

/** What identifies one file's contents across opens: a rename over the path or a write in place changes it. */
type FileIdentity = { dev: number; ino: number; size: number; mtimeMs: number };

function identityOf(s: { dev: number; ino: number; size: number; mtimeMs: number }): FileIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

async function readFully(fh: FileHandle, dst: Uint8Array, position: number, path: string): Promise<void> {
  for (let done = 0; done < dst.byteLength;) {
    const { bytesRead } = await fh.read(dst, done, Math.min(dst.byteLength - done, MAX_IO_BYTES), position + done);
    if (bytesRead === 0) throw new CheckpointError(path, 'invalid-file', `damaged or truncated: the file ended at byte ${position + done}`);
    done += bytesRead;
  }
}
