/**
 * One reader's server-sent-event stream of a hub's events, with backpressure: a reader slower than the job (a laptop
 * on a bad link, a tab in the background) is sent what its socket accepts and then waits for 'drain'; the rest stays
 * in the hub (which keeps every event for new page loads anyway) instead of piling up in the socket's buffer, so a
 * slow reader costs a cursor, not a copy of the job's events.
 */
import type { EventHub } from './event-hub.js';

/** What the stream needs of an HTTP response. */
export interface EventSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  end(chunk: string): unknown;
}

/** Send the hub's events from index `from` on, then each new one, then the end marker. Returns the unsubscribe. */
export function streamHubEvents(hub: EventHub, from: number, out: EventSink, ended: () => void): () => void {
  let next = from;
  let waiting = false;
  let finished = false;
  const pump = (): void => {
    waiting = false;
    while (next < hub.events.length) {
      const i = next++;
      if (!out.write(`id: ${i}\ndata: ${JSON.stringify(hub.events[i])}\n\n`)) {
        waiting = true;
        out.once('drain', pump);
        return;
      }
    }
    if (hub.ended && !finished) {
      finished = true;
      out.end('event: end\ndata: {}\n\n');
      ended();
    }
  };
  pump();
  if (finished) return () => {};
  // Between a full socket and its 'drain', new events only move the hub's end; pump sends them when it resumes.
  const wake = () => {
    if (!waiting) pump();
  };
  return hub.subscribe({ event: wake, end: wake });
}
