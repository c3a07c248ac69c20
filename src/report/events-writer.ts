/**
 * events.jsonl: every event of the job, one JSON object per line, written as it happens (a synchronous write per
 * event, no in-process buffer), so the file is complete up to the moment a job is killed and can be tailed live.
 * Non-finite numbers (a diverged loss) are written as null, as JSON requires.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HydraEvent } from '../hydra/api.js';

export class EventsWriter {
  private fd: number | null;
  count = 0;

  /** `append`: keep the events already in the file (a resumed job continues the stopped job's record). */
  constructor(readonly path: string, append = false) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, append ? 'a' : 'w');
  }

  write(e: HydraEvent): void {
    if (this.fd === null) throw new Error(`events writer for ${this.path} is closed`);
    const line = `${JSON.stringify(e)}\n`;
    writeSync(this.fd, line);
    this.count++;
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
