/** `hydra dashboard RUN_DIR`: serve the dashboard of a running or finished job from its run directory's events.jsonl. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EventHub, tailEventsFile } from '../dashboard/event-hub.js';
import { readJobMeta } from '../dashboard/job-meta.js';
import { DEFAULT_DASHBOARD_PORT, parsePort } from '../dashboard/job-watch.js';
import { startDashboardServer } from '../dashboard/server.js';

export function register(program: Command): void {
  program
    .command('dashboard')
    .description("serve the live dashboard of a job's run directory (running or finished), following its events.jsonl")
    .argument('<run-dir>', 'the out_dir of a hydra train job (holds events.jsonl)')
    .option('--port <n>', `port (default ${DEFAULT_DASHBOARD_PORT}; 0: any free port)`)
    .option('--host <addr>', 'bind to this address instead of 127.0.0.1 (then every request needs the token it prints)')
    .action(async (dir: string, o: { port?: string; host?: string }) => {
      const runDir = resolve(dir);
      if (!existsSync(join(runDir, 'events.jsonl'))) throw new Error(`dashboard: ${join(runDir, 'events.jsonl')} does not exist (is ${dir} the out_dir of a hydra train job?)`);
      const port = o.port === undefined ? DEFAULT_DASHBOARD_PORT : parsePort(o.port, '--port');
      const hub = new EventHub();
      const stopTail = tailEventsFile(join(runDir, 'events.jsonl'), hub, 250, (m) => process.stderr.write(`dashboard: ${m}\n`));
      const server = await startDashboardServer({ runDir, hub, meta: () => readJobMeta(runDir), host: o.host, port }).catch((e: unknown) => {
        stopTail();
        throw e;
      });
      process.stderr.write(`dashboard of ${dir}: ${server.url}\n(Ctrl-C to quit)\n`);
      const quit = () => {
        stopTail();
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', quit);
      process.once('SIGTERM', quit);
    });
}
