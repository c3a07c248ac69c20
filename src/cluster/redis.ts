/**
 * The Redis side of a cluster: parsing and redacting queue URLs (`redis://user:pass@host:port/db`, `rediss://` for
 * TLS), connecting with retries and backoff at start-up, and refusing a Redis whose eviction policy would lose jobs.
 * Secrets never leave this file in a message: every URL shown to people goes through `redactRedisUrl`.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** The URL with its password (and user name) replaced by '***', for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return '<unparseable Redis URL>';
  }
}

export function checkRedisUrl(url: string, flag = '--queue'): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag}: expected a Redis URL such as redis://HOST:6379/0 or rediss://:PASSWORD@HOST:6380/0, got '${redactRedisUrl(url)}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`${flag}: expected a redis:// or rediss:// URL, got protocol '${u.protocol}' in ${redactRedisUrl(url)}`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new Error(`${flag}: the path of a Redis URL is the database number (e.g. /0), got '/${db}' in ${redactRedisUrl(url)}`);
  return url;
}

/**
 * Options for long-lived connections (BullMQ's): requests wait while Redis is away instead of failing
 * (`maxRetriesPerRequest: null`, as BullMQ requires for workers), and the client reconnects with a capped backoff,
 * so a restarted Redis is picked up again by itself.
 */
export const LONG_LIVED: RedisOptions = {
  maxRetriesPerRequest: null,
  retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
};

export interface ConnectOptions {
  /** Attempts before giving up (default 6: about 15 s with the default backoff). */
  attempts?: number;
  /** First wait between attempts, doubled each time (default 500 ms). */
  firstDelayMs?: number;
  log?: (line: string) => void;
}

/** Connect and PING, retrying with exponential backoff; then a clear error saying where and why it failed. */
export async function connectRedis(url: string, opts: ConnectOptions = {}): Promise<Redis> {
  checkRedisUrl(url);
  const attempts = opts.attempts ?? 6;
  let delay = opts.firstDelayMs ?? 500;
  let lastError = '';
  const started = performance.now();
  for (let i = 1; i <= attempts; i++) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000 });
    // The 'error' event carries the cause (ECONNREFUSED, WRONGPASS); connect() itself may only say the connection closed.
    let cause = '';
    client.on('error', (e: Error) => (cause ||= e.message));
    try {
      await client.connect();
      await client.ping();
      return client;
    } catch (e) {
      lastError = cause || (e instanceof Error ? e.message : String(e));
      client.disconnect();
    }
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(lastError)) {
      throw new Error(`Redis at ${redactRedisUrl(url)} refused the credentials in the URL (${lastError}); check the user name and password`);
    }
    if (i < attempts) {
      opts.log?.(`redis: ${redactRedisUrl(url)} not reachable (${lastError}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${i} of ${attempts})`);
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  throw new Error(
    `Redis at ${redactRedisUrl(url)} is unreachable: ${attempts} attempts over ${secs} s failed (last error: ${lastError}). ` +
      `Is redis-server running there, and do host, port, password and TLS (rediss://) match?`,
  );
}

/**
 * BullMQ keeps jobs, locks and their order in Redis keys: a Redis that evicts keys under memory pressure silently
 * loses jobs. Only `noeviction` is safe. A Redis that does not allow CONFIG GET (some managed services) is accepted
 * with a warning, since its policy cannot be read.
 */
export async function checkEvictionPolicy(client: Redis, url: string, log?: (line: string) => void): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch (e) {
    log?.(`redis: warning: cannot read maxmemory-policy of ${redactRedisUrl(url)} (${e instanceof Error ? e.message : String(e)}); make sure it is 'noeviction'`);
    return;
  }
  if (policy !== undefined && policy !== 'noeviction') {
    throw new Error(
      `Redis at ${redactRedisUrl(url)} has maxmemory-policy '${policy}': it may evict BullMQ's keys and lose jobs, so hydra refuses it. ` +
        `Fix: set 'maxmemory-policy noeviction' in redis.conf (or run: redis-cli -u <url> CONFIG SET maxmemory-policy noeviction) and try again.`,
    );
  }
}

/** Connected, checked, ready for BullMQ: the start-up sequence every cluster command runs. */
export async function openQueueConnection(url: string, opts: ConnectOptions = {}): Promise<Redis> {
  const probe = await connectRedis(url, opts);
  try {
    await checkEvictionPolicy(probe, url, opts.log);
  } finally {
    probe.disconnect();
  }
  const client = new Redis(url, LONG_LIVED);
  let down = false;
  client.on('error', (e: Error) => {
    // ioredis reconnects by itself; say so once per outage, not once per retry.
    if (!down) opts.log?.(`redis: connection to ${redactRedisUrl(url)} lost (${e.message}); reconnecting`);
    down = true;
  });
  client.on('ready', () => {
    if (down) opts.log?.(`redis: reconnected to ${redactRedisUrl(url)}`);
    down = false;
  });
  return client;
}
