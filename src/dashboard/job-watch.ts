/**
 * What `hydra train` does for the dashboard and the report, in one place so the CLI needs only a few lines:
 * write job.json when the job starts, serve the live dashboard with `--dashboard` (fed by the job's own events,
 * after those of a stopped job it resumes), and write report.html when the job ends.
 */
import { join } from 'node:path';
import type { HydraEvent } from '../hydra/api.js';
import { EventHub, readEventsFile } from './event-hub.js';
import { writeJobMeta, type JobMeta } from './job-meta.js';
import { writeReport } from './report.js';
import { startDashboardServer, type DashboardServer } from './server.js';

export interface DashboardFlag {
  port: number;
  host: string;
}

export const DEFAULT_DASHBOARD_PORT = 7700;

/** `--dashboard [PORT]` (commander gives true without a value) and `--dashboard-host ADDR`. */
export function parseDashboardFlag(value: string | boolean | undefined, host: string | undefined): DashboardFlag | undefined {
  if (value === undefined || value === false) {
    if (host !== undefined) throw new Error('--dashboard-host: only with --dashboard');
    return undefined;
  }
  return { port: value === true ? DEFAULT_DASHBOARD_PORT : parsePort(value, '--dashboard'), host: host ?? '127.0.0.1' };
}

export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`${flag}: expected a port number 0–65535 (0: any free port), got '${value}'`);
  return port;
}

export class JobWatch {
  private constructor(
    private readonly runDir: string,
    private readonly hub: EventHub | null,
    private readonly server: DashboardServer | null,
  ) {}

  /** Call after events.jsonl is opened (a resumed job's earlier events are in it). */
  static async start(runDir: string, meta: JobMeta, dashboard: DashboardFlag | undefined, onStop: () => void, warn: (line: string) => void): Promise<JobWatch> {
    try {
      writeJobMeta(runDir, meta);
    } catch (e) {
      // The job does not need it (the dashboard then lacks hyper-parameters and ETAs): training goes on.
      warn(`warning: job.json not written: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!dashboard) return new JobWatch(runDir, null, null);
    const hub = new EventHub(readEventsFile(join(runDir, 'events.jsonl')));
    try {
      const server = await startDashboardServer({ runDir, hub, meta: () => meta, host: dashboard.host, port: dashboard.port, onStop });
      return new JobWatch(runDir, hub, server);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new Error(`--dashboard: port ${dashboard.port} is in use; give another port, or 0 for any free one`);
      if (code === 'EADDRNOTAVAIL') throw new Error(`--dashboard-host: ${dashboard.host} is not an address of this machine`);
      throw e;
    }
  }

  get url(): string | undefined {
    return this.server?.url;
  }

  publish(e: HydraEvent): void {
    this.hub?.publish(e);
  }

  /** The job is over: end the page's stream and close the server. */
  async close(): Promise<void> {
    await this.server?.close();
  }

  /** report.html, or undefined (with a warning) if it cannot be written: the job's results are written already. */
  writeReport(warn: (line: string) => void): string | undefined {
    try {
      return writeReport(this.runDir);
    } catch (e) {
      warn(`warning: report.html not written: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }
}
