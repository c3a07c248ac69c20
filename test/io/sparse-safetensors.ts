/** A safetensors file of one huge F32 tensor whose data is a hole (a sparse file): large, yet costs no disk. */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/** Writes the header, grows the file to its full size without writing data; returns the data's file offset. */
export function sparseSafetensors(path: string, elements: number, name = 'big'): number {
  const json = Buffer.from(JSON.stringify({ [name]: { dtype: 'F32', shape: [elements], data_offsets: [0, elements * 4] } }));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, json);
    ftruncateSync(fd, 8 + json.length + elements * 4);
  } finally {
    closeSync(fd);
  }
  return 8 + json.length;
}
