/**
 * Test harness for the cluster: a real redis-server (the Debian package) started on a free localhost port in a temp
 * directory — never a system service — and killed after; real `hydra` processes (workers, submit, results).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const REPO = new URL('../../../', import.meta.url).pathname;
export const HYDRA = join(REPO, 'dist/src/cli/main.js');
const TEXT = join(REPO, 'examples/data/wikitext-tiny-eval.txt');

const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;

export function tempDir(prefix = 'hydra-cluster-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  readonly url: string;

  private constructor(readonly port: number, readonly dir: string, private readonly args: string[], password?: string) {
    this.url = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}/0`;
  }

  /** `extra`: redis-server options, e.g. ['--maxmemory-policy', 'allkeys-lru'] or ['--appendonly', 'yes']. */
  static async start(extra: string[] = [], password?: string): Promise<RedisServer> {
    // Not a skip: the cluster is tested against a real Redis or not at all.
    if (!HAVE_REDIS) throw new Error('redis-server is not installed: apt-get install redis-server (.ci/run installs it)');
    const dir = tempDir('hydra-redis-');
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', ...(password ? ['--requirepass', password] : []), ...extra];
    const r = new RedisServer(port, dir, args, password);
    await r.launch();
    return r;
  }

  async launch(): Promise<void> {
    this.proc = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    this.proc.stdout!.on('data', (d) => log.push(String(d)));
    // Up to 20 s: a guard (redis starts in milliseconds on a quiet machine, far slower on a loaded one).
    for (let i = 0; i < 400; i++) {
      if (log.join('').includes('Ready to accept connections')) return;
      if (this.proc.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`redis-server did not start: ${log.join('').slice(-500)}`);
  }

  /** SIGKILL: no shutdown save; what survives is what the AOF holds. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A tiny grid config (6 models: lr × batch size) in `dir`; `over` replaces fields. */
export function writeGrid(dir: string, over: Record<string, unknown> = {}): string {
  const file = join(dir, 'grid.yaml');
  writeFileSync(
    file,
    stringify({
      name: 'cgrid',
      model: { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, dropout: 0.1, tie: true },
      data: { train: TEXT, eval: TEXT, eval_tokens: 64 },
      grid: { lr: [1e-2, 3e-3, 1e-3], batch_size: [2, 1] },
      clip_norm: 1,
      schedule: { warmup_steps: 1, decay: 'cosine', min_ratio: 0.1 },
      steps: 6,
      segment_steps: 2,
      devices: 'cpu:2x1',
      device_memory: '16MiB',
      plan_dir: join(dir, 'plans'),
      out_dir: join(dir, 'single'),
      ...over,
    }),
  );
  return file;
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

export function hydra(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [HYDRA, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout!.on('data', (d) => chunks.push(String(d)));
  child.stderr!.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => chunks.join(''), exited };
}

/** Run hydra to completion; throws with its output when it fails. */
export async function hydraOk(args: string[], cwd: string): Promise<string> {
  const p = hydra(args, cwd);
  const code = await p.exited;
  if (code !== 0) throw new Error(`hydra ${args.join(' ')} exited ${code}:\n${p.out()}`);
  return p.out();
}

export function startWorker(redis: RedisServer, store: string, cwd: string, name: string, extra: string[] = []): Proc {
  return hydra(['worker', '--queue', redis.url, '--store', store, '--devices', 'cpu:1x1', '--device-memory', '16MiB', '--work-dir', join(cwd, `w-${name}`), '--lock-seconds', '3', '--name', name, ...extra], cwd);
}

/** Every model's weights in a results directory (models/<name>/model.safetensors), as raw bytes. */
export function weightsOf(outDir: string, names: string[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const n of names) {
    const p = join(outDir, 'models', n, 'model.safetensors');
    if (existsSync(p)) m.set(n, readFileSync(p));
  }
  return m;
}
