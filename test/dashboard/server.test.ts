/**
 * The dashboard server's safety rules and its event stream, over plain HTTP (no browser): bound to a non-loopback
 * address every request needs the token; the stop action needs it always; files outside the run directory ('..',
 * encoded '..', absolute paths, links) are refused; the stream resumes from an index and ends when the job ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventHub, tailEventsFile } from '../../src/dashboard/event-hub.js';
import { isLoopback, startDashboardServer, type DashboardServer } from '../../src/dashboard/server.js';
import type { HydraEvent } from '../../src/hydra/api.js';
import { tempDir } from '../config/fixtures.js';

/** `onData`: called with the body so far after each chunk (to act once a stream has sent something). */
function get(server: DashboardServer, path: string, opts: { method?: string; headers?: Record<string, string>; onData?: (soFar: string) => void } = {}): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((ok, fail) => {
    // A raw path: node's http client sends it as written ('..' included), as a hostile client would.
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += String(c);
        opts.onData?.(body);
      });
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

const step = (s: number): HydraEvent => ({ type: 'step', t: s, model: 'm', step: s, epoch: 0, loss: 5 - s, gradNorm: 1, lr: 1e-3 });

function runDir(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'results.json'), '{"ok":true}\n');
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'models', 'a.txt'), 'inside\n');
  return dir;
}

test('bound to a non-loopback address, every request without the token is refused', async () => {
  let stops = 0;
  const server = await startDashboardServer({ runDir: runDir(), hub: new EventHub(), meta: () => undefined, host: '0.0.0.0', port: 0, onStop: () => stops++ });
  try {
    for (const path of ['/', '/events', '/files/results.json', '/?token=wrong', '/nowhere']) {
      const r = await get(server, path);
      assert.equal(r.status, 401, path);
      assert.match(r.body, /needs its token/);
    }
    assert.equal((await get(server, '/stop', { method: 'POST' })).status, 401);
    assert.equal(stops, 0);
    const page = await get(server, `/?token=${server.token}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>hydra job — hydra dashboard<\/title>/);
    assert.equal((await get(server, '/files/results.json', { headers: { 'x-hydra-token': server.token } })).body, '{"ok":true}\n');
  } finally {
    await server.close();
  }
});

test('on loopback the page is open but the stop action needs the token; without a job to stop it is refused', async () => {
  let stops = 0;
  const server = await startDashboardServer({ runDir: runDir(), hub: new EventHub(), meta: () => undefined, port: 0, onStop: () => stops++ });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    assert.equal((await get(server, '/')).status, 200);
    assert.equal((await get(server, '/stop', { method: 'POST' })).status, 403);
    assert.equal((await get(server, `/stop?token=${server.token}`)).status, 405, 'GET cannot stop (a link or an <img> cannot)');
    assert.equal(stops, 0);
    assert.equal((await get(server, '/stop', { method: 'POST', headers: { 'x-hydra-token': server.token } })).status, 202);
    assert.equal(stops, 1);
  } finally {
    await server.close();
  }
  const watcher = await startDashboardServer({ runDir: runDir(), hub: new EventHub(), meta: () => undefined, port: 0 });
  try {
    const r = await get(watcher, '/stop', { method: 'POST', headers: { 'x-hydra-token': watcher.token } });
    assert.equal(r.status, 409);
    assert.match(r.body, /Ctrl-C/);
  } finally {
    await watcher.close();
  }
});

test('files are served from inside the run directory only', async () => {
  const dir = runDir();
  const outside = tempDir();
  writeFileSync(join(outside, 'secret.txt'), 'secret\n');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'link.txt'));
  const server = await startDashboardServer({ runDir: dir, hub: new EventHub(), meta: () => undefined, port: 0 });
  try {
    assert.equal((await get(server, '/files/models/a.txt')).body, 'inside\n');
    for (const path of ['/files/../secret.txt', '/files/models/../../secret.txt', '/files/%2e%2e/secret.txt', '/files/..%2fsecret.txt', `/files/${encodeURIComponent(join(outside, 'secret.txt'))}`, '/files/link.txt', '/files/models']) {
      const r = await get(server, path);
      assert.equal(r.status, 403, path);
      assert.doesNotMatch(r.body, /secret\n/);
    }
    assert.equal((await get(server, '/files/missing.json')).status, 404);
  } finally {
    await server.close();
  }
});

test('the event stream sends the events from an index, then new ones, and ends when the job does', async () => {
  const hub = new EventHub([step(0), step(1)]);
  const server = await startDashboardServer({ runDir: runDir(), hub, meta: () => undefined, port: 0 });
  // The new event is published once the stream has sent the backlog, not after a fixed pause: on a loaded machine the
  // request can arrive later than any pause, and a server closed before it arrives resets the connection (ECONNRESET).
  let backlogSent!: () => void;
  const streaming = new Promise<void>((r) => (backlogSent = r));
  const body = get(server, '/events?from=1', { onData: (soFar) => /^id: 1$/m.test(soFar) && backlogSent() });
  await Promise.race([streaming, body]);
  hub.publish(step(2));
  await server.close();
  const { status, body: text } = await body;
  assert.equal(status, 200);
  const ids = [...text.matchAll(/^id: (\d+)\ndata: (.*)$/gm)].map((m) => [Number(m[1]), (JSON.parse(m[2]) as { step: number }).step]);
  assert.deepEqual(ids, [[1, 1], [2, 2]]);
  assert.match(text, /event: end\n/);
});

test('tailing events.jsonl publishes complete lines only, as they are appended', async () => {
  const dir = tempDir();
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, `${JSON.stringify(step(0))}\n${JSON.stringify(step(1)).slice(0, 10)}`);
  const hub = new EventHub();
  const stop = tailEventsFile(file, hub, 20);
  try {
    assert.equal(hub.events.length, 1, 'the half-written line waits');
    writeFileSync(file, `${JSON.stringify(step(0))}\n${JSON.stringify(step(1))}\n${JSON.stringify(step(2))}\n`);
    // Polled every 20 ms: wait for the poll that sees the new lines (a fixed pause can be too short under load).
    for (const end = Date.now() + 10_000; hub.events.length < 3 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(hub.events.map((e) => (e as { step: number }).step), [0, 1, 2]);
  } finally {
    stop();
  }
});

test('loopback addresses', () => {
  assert.ok(isLoopback('127.0.0.1') && isLoopback('127.1.2.3') && isLoopback('localhost') && isLoopback('::1'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('192.168.1.5') && !isLoopback('::'));
});

test('on loopback a request whose Host is not the dashboard\'s own address is refused (DNS rebinding)', async () => {
  const server = await startDashboardServer({ runDir: runDir(), hub: new EventHub(), meta: () => undefined, port: 0 });
  try {
    const { port } = new URL(server.url);
    for (const host of ['evil.example:' + port, 'evil.example', `127.0.0.1:${Number(port) + 1}`]) {
      const r = await get(server, '/files/results.json', { headers: { host } });
      assert.equal(r.status, 421, host);
      assert.match(r.body, /is not this dashboard's address/);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      assert.equal((await get(server, '/files/results.json', { headers: { host } })).status, 200, host);
    }
  } finally {
    await server.close();
  }
});

test('an aborted download closes its file; a file gone between lookup and open is a 404, and the server lives on', async () => {
  const dir = runDir();
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(32 << 20));
  const server = await startDashboardServer({ runDir: dir, hub: new EventHub(), meta: () => undefined, port: 0 });
  const { readdirSync, rmSync } = await import('node:fs');
  const fds = () => readdirSync('/proc/self/fd').length;
  try {
    const { port } = new URL(server.url);
    const before = fds();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((ok, fail) => {
        const req = request({ host: '127.0.0.1', port, path: '/files/big.bin' }, (res) => {
          res.once('data', () => {
            req.destroy(); // the user cancels the download after the first bytes
            ok();
          });
        });
        req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? ok() : fail(e)));
        req.end();
      });
    }
    // The handles close asynchronously after the aborts: wait for it, with a guard generous for a loaded machine.
    let after = fds();
    for (const end = Date.now() + 10_000; after > before && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 20));
      after = fds();
    }
    assert.ok(after <= before, `file descriptors: ${before} before, ${after} after 5 aborted downloads`);
    rmSync(join(dir, 'results.json'));
    assert.equal((await get(server, '/files/results.json')).status, 404);
    assert.equal((await get(server, '/files/models/a.txt')).body, 'inside\n', 'still serving');
  } finally {
    await server.close();
  }
});

test('tailing: a damaged line is skipped with a warning and the following events still arrive', async () => {
  const dir = tempDir();
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, `${JSON.stringify(step(0))}\n{"type": "step", "mod\n42\n${JSON.stringify(step(1))}\n`);
  const hub = new EventHub();
  const warnings: string[] = [];
  const stop = tailEventsFile(file, hub, 20, (m) => warnings.push(m));
  try {
    assert.deepEqual(hub.events.map((e) => (e as { step: number }).step), [0, 1]);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0], /skipped a line that is not an event: \{"type": "step", "mod/);
  } finally {
    stop();
  }
});
