/** What a dashboard page is given: embedded in its HTML as JSON by the server (live) or by `hydra report`. */
import type { HydraEvent } from '../hydra/api.js';
import type { JobMeta } from './job-meta.js';

export interface PageData {
  /** 'live': served by a running dashboard, continued by server-sent events; 'report': a self-contained file. */
  mode: 'live' | 'report';
  meta?: JobMeta;
  /** The job's events so far (all of them in a report). */
  events: HydraEvent[];
  /** The server can stop the job (it runs inside `hydra train --dashboard`). */
  canStop: boolean;
  /** When the page was made (ISO time). */
  generatedAt: string;
}
