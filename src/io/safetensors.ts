/**
 * safetensors reader and writer (format of huggingface/safetensors):
 *
 *   [8 bytes] N, little-endian u64
 *   [N bytes] UTF-8 JSON header, starting with '{', possibly padded with trailing spaces:
 *             { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *               "__metadata__": { "<string>": "<string>" } }        (metadata optional)
 *   [rest]    the byte buffer; offsets are relative to its start, end exclusive, little-endian, C order.
 *
 * The reader treats the file as hostile: every number is checked before use, and the tensors must tile the byte
 * buffer exactly (no overlap, no gap, nothing after the last tensor — the spec forbids holes). Any problem raises a
 * SafetensorsError naming the file and what is wrong. F32, F16, BF16 and F64 are read (as Float32Array; F64 is
 * rounded); other dtypes are recognised but refused.
 *
 * The writer writes F32 only, tensors in sorted-name order, contiguous, the header padded with spaces so the buffer
 * starts 8-byte aligned (hence every F32 tensor can be viewed in place).
 *
 * Large files: offsets are 64-bit end to end (JavaScript numbers, exact to 2^53). The async reader reads each F32
 * tensor straight into its own Float32Array (one copy, from the kernel) in reads of at most 1 GiB (Node's fs binding
 * aborts the process on a read of 2 GiB or more), and widens other dtypes through a bounded scratch buffer, so
 * files and tensors of any size the machine can hold load without a second full-size buffer. A tensor that cannot
 * be allocated is an error naming the file, the tensor and its size.
 */
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { MAX_IO_BYTES, writeFileAtomic } from '../data/atomic-write.js';
import { decodeBF16, decodeF16 } from './float16.js';
import { checkHostTensor, shapeSize, type HostTensor } from './host-tensor.js';
import { checkTensorLike, tensorBytes, tensorElements, type StreamedTensor, type TensorLike } from './streamed-tensor.js';

export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;

const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};
const READABLE = ['F32', 'F16', 'BF16', 'F64'];
const LITTLE_ENDIAN = endianness() === 'LE';

export class SafetensorsError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: invalid safetensors file: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

/** A tensor too large for this process's memory (the file itself may be fine). */
export class TensorMemoryError extends Error {
  constructor(readonly file: string, readonly tensor: string, detail: string) {
    super(`${file}: tensor '${tensor}' ${detail}`);
    this.name = 'TensorMemoryError';
  }
}

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range in the data buffer, end exclusive. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** N, the JSON header's byte length. */
  headerLength: number;
  /** File offset of the byte buffer (8 + N). */
  dataStart: number;
  /** Tensors in file order (by begin offset). */
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  tensors: Map<string, HostTensor>;
}

export interface ReadOptions {
  /** Read only the tensors this accepts (others are still validated, not loaded). */
  filter?: (entry: TensorEntry) => boolean;
  /** Where to put a tensor (e.g. host-tier shared memory); must return a Float32Array of `elements`. */
  allocate?: (entry: TensorEntry, elements: number) => Float32Array;
  /**
   * Sees every tensor's raw bytes in file order, read or not (for checksums over the whole buffer); a large tensor
   * arrives in several consecutive pieces.
   */
  onRawBytes?: (entry: TensorEntry, bytes: Uint8Array) => void;
}

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error('safetensors I/O assumes a little-endian host');
}

/** Header length N from the first 8 bytes, checked against the file size and the sanity limit. */
export function parseHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new SafetensorsError(file, `truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) throw new SafetensorsError(file, `header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit`);
  if (n < 2n) throw new SafetensorsError(file, `header length ${n} is too small for a JSON object`);
  if (8n + n > BigInt(fileSize)) throw new SafetensorsError(file, `header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return Number(n);
}

function elementCount(file: string, name: string, shape: unknown): { shape: number[]; n: number } {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  let n = 1;
  for (const d of shape as number[]) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new SafetensorsError(file, `tensor '${name}': shape ${JSON.stringify(shape)} is impossibly large`);
  }
  return { shape: shape as number[], n };
}

/** Parse and validate the JSON header. `dataSize` = file size - 8 - N. */
export function parseHeaderJson(headerBytes: Uint8Array, dataSize: number, file: string): { entries: TensorEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw new SafetensorsError(file, `header must start with '{', starts with ${JSON.stringify(text.slice(0, 8))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SafetensorsError(file, 'header JSON must be an object');
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__['${k}'] must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    if (value === null || typeof value !== 'object') throw new SafetensorsError(file, `tensor '${name}': entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(file, `tensor '${name}': unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    const { shape: dims, n } = elementCount(file, name, shape);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(file, `tensor '${name}': data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new SafetensorsError(file, `tensor '${name}': data_offsets [${begin}, ${end}] end before begin`);
    const bytes = n * DTYPE_BYTES[dtype];
    if (end - begin !== bytes) {
      throw new SafetensorsError(file, `tensor '${name}': ${dtype} shape [${dims.join(', ')}] needs ${bytes} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataSize) {
      throw new SafetensorsError(file, `tensor '${name}': data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data buffer (truncated?)`);
    }
    entries.push({ name, dtype, shape: dims, begin, end });
  }
  // The tensors must tile [0, dataSize) exactly. Sorting by (begin, end) puts empty tensors before the one they share a begin with.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin < pos) throw new SafetensorsError(file, `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${pos})`);
    if (e.begin > pos) throw new SafetensorsError(file, `gap in the data buffer: bytes [${pos}, ${e.begin}) belong to no tensor (before '${e.name}')`);
    pos = e.end;
  }
  if (pos !== dataSize) throw new SafetensorsError(file, `${dataSize - pos} bytes after the last tensor belong to no tensor (data buffer is ${dataSize} bytes, tensors cover ${pos})`);
  return { entries, metadata };
}

function readableOrThrow(file: string, e: TensorEntry): void {
  if (!READABLE.includes(e.dtype)) {
    throw new SafetensorsError(file, `tensor '${e.name}': dtype ${e.dtype} cannot be read as float32 (readable: ${READABLE.join(', ')})`);
  }
}

/** Convert raw little-endian bytes of a tensor into `out`. */
function decodeInto(dtype: string, bytes: Uint8Array, out: Float32Array): void {
  switch (dtype) {
    case 'F32':
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
      return;
    case 'F16':
      decodeF16(bytes, out);
      return;
    case 'BF16':
      decodeBF16(bytes, out);
      return;
    case 'F64': {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return;
    }
  }
}

/** Read and validate only the header of a file. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await open(path, 'r');
  try {
    return await readHeaderFrom(fh, path);
  } finally {
    await fh.close();
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

async function readExactly(fh: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const { bytesRead } = await fh.read(target, done, Math.min(target.byteLength - done, MAX_IO_BYTES), position + done);
    if (bytesRead === 0) throw new SafetensorsError(file, `file ended early at byte ${position + done} (truncated or changed while reading)`);
    done += bytesRead;
  }
}

async function readHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const size = (await fh.stat()).size;
  const first8 = new Uint8Array(8);
  if (size >= 8) await readExactly(fh, first8, 0, file);
  const headerLength = parseHeaderLength(first8, size, file);
  const headerBytes = new Uint8Array(headerLength);
  await readExactly(fh, headerBytes, 8, file);
  const dataStart = 8 + headerLength;
  return { file, headerLength, dataStart, ...parseHeaderJson(headerBytes, size - dataStart, file) };
}

/** Scratch bytes for widening F16/BF16/F64 tensors: a whole-tensor scratch buffer of a huge tensor would not fit. */
const SCRATCH_BYTES = 64 * 1024 * 1024;

/** Read a safetensors file: every (accepted) tensor into its own Float32Array. */
export async function readSafetensors(path: string, options: ReadOptions = {}): Promise<SafetensorsContents> {
  requireLittleEndian();
  const fh = await open(path, 'r');
  try {
    const header = await readHeaderFrom(fh, path);
    const tensors = new Map<string, HostTensor>();
    for (const e of header.entries) {
      const wanted = options.filter ? options.filter(e) : true;
      if (!wanted && !options.onRawBytes) continue;
      if (wanted) readableOrThrow(path, e);
      const out = wanted ? allocateFor(path, e, shapeSize(e.shape), options) : null;
      const at = header.dataStart + e.begin, bytes = e.end - e.begin;
      if (out && e.dtype === 'F32') {
        // F32 goes straight into the destination.
        const raw = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        await readExactly(fh, raw, at, path);
        options.onRawBytes?.(e, raw);
      } else {
        // Other dtypes (and tensors only checksummed) through a bounded scratch buffer, whole elements at a time.
        const width = DTYPE_BYTES[e.dtype];
        const scratch = new Uint8Array(Math.min(bytes, SCRATCH_BYTES - (SCRATCH_BYTES % width)));
        let done = 0;
        do {
          const piece = scratch.subarray(0, Math.min(scratch.byteLength, bytes - done));
          await readExactly(fh, piece, at + done, path);
          options.onRawBytes?.(e, piece); // an empty tensor too, once
          if (out) decodeInto(e.dtype, piece, out.subarray(done / width, (done + piece.byteLength) / width));
          done += piece.byteLength;
        } while (done < bytes);
      }
      if (out) tensors.set(e.name, { shape: e.shape, data: out });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await fh.close();
  }
}

/**
 * A file's (accepted) tensors as streamed tensors: each read fills a piece of a tensor, widened to float32, from its
 * byte range in the file — a model's weights go where they live (the disk tier) without being held whole in memory.
 */
export async function streamSafetensors(path: string, filter?: (e: TensorEntry) => boolean): Promise<Map<string, StreamedTensor>> {
  requireLittleEndian();
  const header = await readSafetensorsHeader(path);
  const out = new Map<string, StreamedTensor>();
  for (const e of header.entries) {
    if (filter && !filter(e)) continue;
    readableOrThrow(path, e);
    const width = DTYPE_BYTES[e.dtype], at = header.dataStart + e.begin;
    out.set(e.name, {
      shape: e.shape,
      read: async (dst, offset) => {
        const fh = await open(path, 'r');
        try {
          const raw = e.dtype === 'F32' ? new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength) : new Uint8Array(dst.length * width);
          await readExactly(fh, raw, at + offset * width, path);
          if (e.dtype !== 'F32') decodeInto(e.dtype, raw, dst);
        } finally {
          await fh.close();
        }
      },
    });
  }
  return out;
}

function allocateFor(file: string, e: TensorEntry, n: number, options: ReadOptions): Float32Array {
  let out: Float32Array;
  try {
    out = options.allocate ? options.allocate(e, n) : new Float32Array(n);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new TensorMemoryError(file, e.name, `(${e.dtype} [${e.shape.join(', ')}], ${n * 4} bytes as float32) cannot be held in memory: ${err.message}`);
  }
  if (!(out instanceof Float32Array) || out.length !== n) throw new SafetensorsError(file, `tensor '${e.name}': allocate() must return a Float32Array of ${n} elements`);
  return out;
}

/**
 * Decode a whole file already in memory. F32 tensors are views into `buf` when 4-byte aligned (keep `buf` alive
 * and unmodified), copies otherwise.
 */
export function decodeSafetensors(buf: Uint8Array, file = '<buffer>', options: Omit<ReadOptions, 'allocate'> = {}): SafetensorsContents {
  requireLittleEndian();
  const headerLength = parseHeaderLength(buf.subarray(0, 8), buf.byteLength, file);
  const dataStart = 8 + headerLength;
  const { entries, metadata } = parseHeaderJson(buf.subarray(8, dataStart), buf.byteLength - dataStart, file);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const raw = buf.subarray(dataStart + e.begin, dataStart + e.end);
    options.onRawBytes?.(e, raw);
    if (options.filter && !options.filter(e)) continue;
    readableOrThrow(file, e);
    const n = shapeSize(e.shape);
    let data: Float32Array;
    if (e.dtype === 'F32' && raw.byteOffset % 4 === 0) {
      data = new Float32Array(raw.buffer, raw.byteOffset, n);
    } else {
      data = new Float32Array(n);
      decodeInto(e.dtype, raw, data);
    }
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { metadata, tensors };
}

export type TensorSet = Map<string, TensorLike> | Record<string, TensorLike>;

function toEntries(tensors: TensorSet): [string, TensorLike][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** Where the writer puts each tensor: sorted by name, F32, contiguous from offset 0. Validates the tensors. */
export function planLayout<T extends TensorLike>(tensors: Map<string, T> | Record<string, T>): { entry: TensorEntry; tensor: T }[] {
  const list = (toEntries(tensors) as [string, T][]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let offset = 0;
  return list.map(([name, tensor]) => {
    if (name === '__metadata__') throw new RangeError("a tensor cannot be named '__metadata__'");
    checkTensorLike(name, tensor);
    const entry: TensorEntry = { name, dtype: 'F32', shape: [...tensor.shape], begin: offset, end: offset + tensorElements(tensor) * 4 };
    offset = entry.end;
    return { entry, tensor };
  });
}

/** The header (length + JSON, space-padded to 8 bytes) of a file laid out as `entries`. */
export function safetensorsHeader(entries: readonly TensorEntry[], metadata: Record<string, string> = {}): Buffer {
  requireLittleEndian();
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  for (const e of entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return head;
}

/**
 * Serialise as F32 safetensors: returns [header, tensor bytes...] without copying tensor data (the chunks view
 * the tensors' memory; write them before changing the tensors).
 */
export function encodeSafetensors(tensors: Map<string, HostTensor> | Record<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const layout = planLayout(tensors);
  const head = safetensorsHeader(layout.map((l) => l.entry), metadata);
  return [head, ...layout.map(({ tensor }) => new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))];
}

/**
 * Write F32 tensors (+ string metadata) as a safetensors file, atomically. Streamed tensors are read piece by piece
 * as they are written (bounded memory).
 */
export async function writeSafetensors(path: string, tensors: TensorSet, metadata: Record<string, string> = {}): Promise<void> {
  const layout = planLayout(tensors);
  const head = safetensorsHeader(layout.map((l) => l.entry), metadata);
  await writeFileAtomic(path, (async function* () {
    yield head;
    yield* tensorBytes(layout.map((l) => l.tensor));
  })());
}
