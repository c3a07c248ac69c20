/**
 * The events a dashboard server streams: every HydraEvent of the job in order (index = SSE id), fed either by the
 * running job itself (`hydra train --dashboard`) or by tailing its events.jsonl (`hydra dashboard RUN_DIR`).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { HydraEvent } from '../hydra/api.js';

export interface HubListener {
  event(e: HydraEvent, index: number): void;
  /** The job is over: no more events will come. */
  end(): void;
}

export class EventHub {
  readonly events: HydraEvent[] = [];
  ended = false;
  private readonly listeners = new Set<HubListener>();

  constructor(initial: HydraEvent[] = []) {
    this.events.push(...initial);
  }

  publish(e: HydraEvent): void {
    const i = this.events.push(e) - 1;
    for (const l of this.listeners) l.event(e, i);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const l of this.listeners) l.end();
    this.listeners.clear();
  }

  subscribe(l: HubListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/**
 * Parse events.jsonl text; a last line without its newline (still being written) is left out. A line that is not a
 * JSON object (a file damaged by a crash or edited by hand) is passed to `bad` and skipped: one bad line must not
 * hide the rest of the job.
 */
export function parseEventLines(text: string, into: (e: HydraEvent) => void, bad: (line: string) => void = () => {}): void {
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) {
    if (!line.trim()) continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      bad(line);
      continue;
    }
    if (e !== null && typeof e === 'object' && typeof (e as { type?: unknown }).type === 'string') into(e as HydraEvent);
    else bad(line);
  }
}

/** Every event of an events.jsonl file; lines that are not events go to `onBad` (see parseEventLines). */
export function readEventsFile(path: string, onBad?: (line: string) => void): HydraEvent[] {
  const events: HydraEvent[] = [];
  if (existsSync(path)) parseEventLines(readFileSync(path, 'utf8'), (e) => events.push(e), onBad);
  return events;
}

/**
 * Follow events.jsonl into the hub: what it holds now, then what is appended, polled every `intervalMs` (the job
 * appends whole lines, so up to the last newline the text is complete events). Returns a stop function. A poll that
 * fails (the file vanished between stat and open, a damaged line) is reported through `warn` and retried at the next
 * tick; it never throws out of the timer.
 */
export function tailEventsFile(path: string, hub: EventHub, intervalMs = 250, warn: (message: string) => void = () => {}): () => void {
  let offset = 0;
  let carry = Buffer.alloc(0);
  const poll = () => {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size < offset) {
      // The file was replaced (a new job in the same directory): start over, dropping the old file's partial line.
      offset = 0;
      carry = Buffer.alloc(0);
    }
    if (size === offset) return;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const bytes = Buffer.concat([carry, buf]);
      // Up to the last newline: complete lines, so no character is cut in two.
      const end = bytes.lastIndexOf(10) + 1;
      parseEventLines(bytes.subarray(0, end).toString('utf8'), (e) => hub.publish(e), (line) => warn(`${path}: skipped a line that is not an event: ${line.slice(0, 80)}`));
      carry = bytes.subarray(end);
    } finally {
      closeSync(fd);
    }
  };
  const safePoll = () => {
    try {
      poll();
    } catch (err) {
      warn(`${path}: ${(err as Error).message}`);
    }
  };
  safePoll();
  const timer = setInterval(safePoll, intervalMs);
  return () => clearInterval(timer);
}
