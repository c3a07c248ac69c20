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

/** Parse events.jsonl text; a last line without its newline (still being written) is skipped. */
export function parseEventLines(text: string, into: (e: HydraEvent) => void): void {
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) if (line.trim()) into(JSON.parse(line) as HydraEvent);
}

export function readEventsFile(path: string): HydraEvent[] {
  const events: HydraEvent[] = [];
  if (existsSync(path)) parseEventLines(readFileSync(path, 'utf8'), (e) => events.push(e));
  return events;
}

/**
 * Follow events.jsonl into the hub: what it holds now, then what is appended, polled every `intervalMs` (the file is
 * written with one synchronous write per event, so complete lines are complete events). Returns a stop function.
 */
export function tailEventsFile(path: string, hub: EventHub, intervalMs = 250): () => void {
  let offset = 0;
  let carry = Buffer.alloc(0);
  const poll = () => {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size < offset) offset = 0; // the file was replaced (a new job in the same directory): start over
    if (size === offset) return;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const bytes = Buffer.concat([carry, buf]);
      // Up to the last newline: complete lines, so no character is cut in two.
      const end = bytes.lastIndexOf(10) + 1;
      parseEventLines(bytes.subarray(0, end).toString('utf8'), (e) => hub.publish(e));
      carry = bytes.subarray(end);
    } finally {
      closeSync(fd);
    }
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  return () => clearInterval(timer);
}
