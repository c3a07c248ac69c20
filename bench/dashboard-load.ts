/**
 * `--dashboard` for the benches: a live dashboard server fed by the job's events, with one connected reader of its
 * event stream (as an open page would be: every event serialised and written to a socket), so a bench can compare
 * a job's makespan with and without the dashboard. The browser's drawing is left out: it runs in its own process.
 */
import { request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HydraEvent } from '../src/hydra/api.js';
import { EventHub } from '../src/dashboard/event-hub.js';
import { startDashboardServer } from '../src/dashboard/server.js';

export async function startBenchDashboard(): Promise<{ publish: (e: HydraEvent) => void; close: () => Promise<{ bytesStreamed: number }> }> {
  const hub = new EventHub();
  const server = await startDashboardServer({ runDir: mkdtempSync(join(tmpdir(), 'hydra-bench-dash-')), hub, meta: () => undefined, port: 0, onStop: () => undefined });
  let bytesStreamed = 0;
  const done = new Promise<void>((ok, fail) => {
    const url = new URL('/events', server.url);
    request(url, (res) => {
      res.on('data', (c: Buffer) => void (bytesStreamed += c.length));
      res.on('end', ok);
    }).on('error', fail).end();
  });
  return {
    publish: (e) => hub.publish(e),
    close: async () => {
      await server.close();
      await done;
      return { bytesStreamed };
    },
  };
}
