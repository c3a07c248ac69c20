/**
 * The dashboard's HTTP server (node:http): the page, the job's events as server-sent events, the run directory's
 * files, and the stop action.
 *
 * Safe by default: it binds 127.0.0.1. Bound to any other address, every request must carry the random token printed
 * once at start (`?token=` or the `x-hydra-token` header), since anyone who can reach the port could otherwise read
 * the run and stop it. The stop action requires the token always (so another local user's page cannot stop the job),
 * and files are served only from inside the run directory. On a loopback address the Host header must name that
 * address (127.0.0.1, localhost or [::1] with the port): a web page the user visits cannot rebind its own host name to
 * 127.0.0.1 and read the run through the browser (DNS rebinding). A failing request gets a 500, never the job's end.
 *
 *   GET  /                 the page, with the events so far embedded
 *   GET  /events?from=N    server-sent events from index N (the SSE id; a reconnect resumes after Last-Event-ID)
 *   GET  /files/<path>     a file of the run directory (results.json, results.csv, events.jsonl, report.html, ...)
 *   POST /stop             stop the job as Ctrl-C does (only inside `hydra train --dashboard`)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { EventHub } from './event-hub.js';
import type { JobMeta } from './job-meta.js';
import { pageHtml } from './page-html.js';
import { streamHubEvents } from './event-stream.js';

export interface DashboardServerOptions {
  runDir: string;
  hub: EventHub;
  /** The job's description (re-read per page: job.json may appear after the server starts). */
  meta: () => JobMeta | undefined;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (0: any free port). */
  port: number;
  /** Stop the job; absent when the server only watches a run directory. */
  onStop?: () => void;
}

export interface DashboardServer {
  /** The page's address, with the token. */
  url: string;
  token: string;
  /** Ends every event stream (the page keeps its last picture) and closes the server. */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const TYPES: Record<string, string> = {
  '.json': 'application/json', '.jsonl': 'application/x-ndjson', '.csv': 'text/csv', '.html': 'text/html', '.svg': 'image/svg+xml', '.txt': 'text/plain',
};

function decodePath(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Whether a request path has a '..' segment, literally or percent-encoded (or cannot be decoded at all). */
function climbs(rawPath: string): boolean {
  const decoded = decodePath(rawPath);
  return decoded === undefined || decoded.split(/[\\/]/).includes('..');
}

export async function startDashboardServer(o: DashboardServerOptions): Promise<DashboardServer> {
  const host = o.host ?? '127.0.0.1';
  const token = randomBytes(16).toString('hex');
  const tokenBytes = Buffer.from(token);
  const everyRequestNeedsToken = !isLoopback(host);
  const runDir = realpathSync(o.runDir);
  const streams = new Set<ServerResponse>();

  const hasToken = (req: IncomingMessage, url: URL) => {
    const given = Buffer.from(String(req.headers['x-hydra-token'] ?? url.searchParams.get('token') ?? ''));
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  };
  const send = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
  };

  let port = 0; // known once listening
  /** On loopback, the Host header must be this server's own loopback name (DNS-rebinding defence). */
  const hostAllowed = (req: IncomingMessage) => {
    if (everyRequestNeedsToken) return true; // the token is the defence there
    const given = String(req.headers.host ?? '').toLowerCase();
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${host}:${port}`].includes(given);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // Whatever went wrong serving one request (a file vanished, job.json half-written) must not end the job.
      if (!res.headersSent) send(res, 500, `dashboard error: ${(err as Error).message}`);
      else res.destroy();
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (!hostAllowed(req)) return send(res, 421, `refused: Host '${String(req.headers.host ?? '')}' is not this dashboard's address (open http://127.0.0.1:${port}/)`);
    if (everyRequestNeedsToken && !hasToken(req, url)) {
      return send(res, 401, 'this dashboard is bound to a non-loopback address and needs its token: open the URL it printed when it started');
    }
    // The raw path, not the URL parser's, which silently drops '..' segments: a path that climbs is refused outright.
    const rawPath = (req.url ?? '/').split('?')[0];
    if (climbs(rawPath)) return send(res, 403, `refused: '..' in ${rawPath}`);
    const path = url.pathname;
    if (req.method === 'GET' && path === '/') {
      const html = pageHtml({ mode: 'live', meta: o.meta(), events: o.hub.events, canStop: o.onStop !== undefined, generatedAt: new Date().toISOString() });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return;
    }
    if (req.method === 'GET' && path === '/events') return streamEvents(req, res, url);
    if (path === '/stop') {
      if (req.method !== 'POST') return send(res, 405, 'stop: use POST');
      if (!hasToken(req, url)) return send(res, 403, 'stop needs the dashboard token: open the URL it printed when it started');
      if (!o.onStop) return send(res, 409, 'this dashboard watches a run directory; stop the job where it runs (Ctrl-C)');
      o.onStop();
      return send(res, 202, 'stopping');
    }
    if (req.method === 'GET' && path.startsWith('/files/')) return serveFile(rawPath.slice('/files/'.length), res);
    send(res, 404, `not found: ${path}`);
  }

  function streamEvents(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const last = Number(req.headers['last-event-id']);
    const from = Number.isInteger(last) && last >= 0 ? last + 1 : Math.max(0, Math.floor(Number(url.searchParams.get('from')) || 0));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    streams.add(res);
    const unsubscribe = streamHubEvents(o.hub, from, res, () => streams.delete(res));
    res.on('close', () => {
      unsubscribe();
      streams.delete(res);
    });
  }

  /** A file inside the run directory ('..' was refused above); absolute paths and links leading outside are refused. */
  function serveFile(raw: string, res: ServerResponse): void {
    const rel = decodePath(raw);
    if (rel === undefined || rel === '' || isAbsolute(rel) || rel.includes('\0')) {
      return send(res, 403, `refused: '${raw}' is not a path inside the run directory`);
    }
    let file: string;
    try {
      file = realpathSync(resolve(runDir, rel));
    } catch {
      return send(res, 404, `not found: ${rel}`);
    }
    const inside = relative(runDir, file);
    if (inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      return send(res, 403, `refused: '${rel}' is not a file inside the run directory`);
    }
    void sendFile(file, rel, res);
  }

  /**
   * Open first, then check the opened file (a checkpoint renamed away between a stat and an open is a 404, not an
   * uncaught error); the stream is closed when the client goes away mid-download (pipeline destroys it).
   */
  async function sendFile(file: string, rel: string, res: ServerResponse): Promise<void> {
    let fh;
    try {
      fh = await open(file, 'r');
      if (!(await fh.stat()).isFile()) {
        await fh.close();
        return send(res, 403, `refused: '${rel}' is not a file inside the run directory`);
      }
    } catch {
      await fh?.close().catch(() => {});
      return send(res, 404, `not found: ${rel}`);
    }
    const ext = /\.[a-z]+$/i.exec(file)?.[0].toLowerCase() ?? '';
    res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'x-content-type-options': 'nosniff' });
    pipeline(fh.createReadStream(), res, () => {
      // An aborted download or a read error ends the response; the file handle is closed by the stream either way.
    });
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    token,
    close: async () => {
      o.hub.end();
      for (const s of streams) s.end();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
        // A browser's keep-alive connection that was busy a moment ago: give its last bytes a second, then cut it.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
    },
  };
}
