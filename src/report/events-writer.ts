/**
 * events.jsonl: every event of the job, one JSON object per line. Events are buffered in memory and written at most
 * every `flushMs` (or sooner when 64 KiB are waiting, and at close), so the file trails the job by a fraction of a
 * second and can be tailed live; a kill -9 loses at most that fraction.
 *
 * Writing events must never stop the job: when a write fails (a full disk, a file-size limit) the file is cut back
 * to its last complete line, the writer stops writing, and `failure` says which file failed and how; the job goes on
 * and reports it at the end. Non-finite numbers (a diverged loss) are written as null, as JSON requires.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileWriteError } from '../data/atomic-write.js';
import type { HydraEvent } from '../hydra/api.js';

const FLUSH_BYTES = 64 * 1024;

export class EventsWriter {
  private fd: number | null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** File size after the last complete write: where a failed write is cut back to. */
  private committed: number;
  /** Events given to write(). */
  count = 0;
  /** Events in the file. */
  written = 0;
  /** Why events stopped being written (names the file), if they did. */
  failure: string | null = null;

  /** `append`: keep the events already in the file (a resumed job continues the stopped job's record). */
  constructor(readonly path: string, append = false, private readonly flushMs = 200) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, append ? 'a' : 'w');
      this.committed = fstatSync(this.fd).size;
    } catch (err) {
      throw new FileWriteError(path, err);
    }
  }

  /** Events that were given to write() but are not in the file. */
  get lost(): number {
    return this.count - this.written - this.pending.length;
  }

  write(e: HydraEvent): void {
    if (this.fd === null) throw new Error(`events writer for ${this.path} is closed`);
    this.count++;
    if (this.failure) return;
    const line = `${JSON.stringify(e)}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref(); // never keeps the process alive by itself
    }
  }

  /** Write what is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.fd === null || this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join(''), 'utf8');
    const n = this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      for (let off = 0; off < data.byteLength; ) off += writeSync(this.fd, data, off, data.byteLength - off);
      this.committed += data.byteLength;
      this.written += n;
    } catch (err) {
      this.failure = `${new FileWriteError(this.path, err).message}; the file holds the first ${this.written} events of the job's ${this.count} (later events were not written)`;
      try {
        ftruncateSync(this.fd, this.committed); // no half line at the end: every line stays valid JSON
      } catch {
        /* the file keeps a partial last line */
      }
    }
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}
