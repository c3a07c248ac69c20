/** A slow dashboard reader gets backpressure: nothing is written to a full socket until it drains, nothing is lost. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { EventHub } from '../../src/dashboard/event-hub.js';
import { streamHubEvents } from '../../src/dashboard/event-stream.js';
import type { HydraEvent } from '../../src/hydra/api.js';

/** A socket that accepts `room` writes, then reports full until drain() is called. */
class SlowSink extends EventEmitter {
  chunks: string[] = [];
  ended = '';
  writesWhileFull = 0;
  private full = false;
  constructor(private room: number) {
    super();
  }
  write(chunk: string): boolean {
    if (this.full) this.writesWhileFull++;
    this.chunks.push(chunk);
    this.full = --this.room <= 0;
    return !this.full;
  }
  end(chunk: string): void {
    this.ended = chunk;
  }
  drain(room: number): void {
    this.room = room;
    this.full = false;
    this.emit('drain');
  }
}

const ev = (i: number) => ({ type: 'log', t: i, message: `event ${i}` }) as unknown as HydraEvent;
const ids = (s: SlowSink) => s.chunks.map((c) => Number(/^id: (\d+)/.exec(c)![1]));

test('a full socket is not written to until it drains; every event arrives once, in order, then the end marker', () => {
  const hub = new EventHub([ev(0), ev(1), ev(2)]);
  const sink = new SlowSink(2);
  let endedCalls = 0;
  streamHubEvents(hub, 0, sink, () => endedCalls++);
  assert.deepEqual(ids(sink), [0, 1], 'stops at the write that filled the socket');
  for (let i = 3; i < 10; i++) hub.publish(ev(i));
  hub.end();
  assert.deepEqual(ids(sink), [0, 1], 'new events wait in the hub while the socket is full');
  assert.equal(sink.ended, '', 'the end marker waits behind the unsent events');
  sink.drain(3);
  assert.deepEqual(ids(sink), [0, 1, 2, 3, 4]);
  sink.drain(100);
  assert.deepEqual(ids(sink), [...Array(10).keys()]);
  assert.equal(sink.writesWhileFull, 0);
  assert.match(sink.ended, /^event: end/);
  assert.equal(endedCalls, 1);
});

test('a reader that reconnects from an index gets the events after it, and the end of a finished job at once', () => {
  const hub = new EventHub([ev(0), ev(1), ev(2), ev(3)]);
  hub.end();
  const sink = new SlowSink(100);
  streamHubEvents(hub, 2, sink, () => {});
  assert.deepEqual(ids(sink), [2, 3]);
  assert.match(sink.ended, /^event: end/);
});
