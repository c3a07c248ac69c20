/**
 * report.html: the dashboard of a finished (or stopped, or still running) job as one self-contained file — the same
 * page with every event embedded and the script and styles inlined; no server, no network. Written at the end of
 * every `hydra train` and by `hydra report RUN_DIR`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../data/atomic-write.js';
import { readEventsFile } from './event-hub.js';
import { readJobMeta } from './job-meta.js';
import { pageHtml } from './page-html.js';

export const REPORT_FILE = 'report.html';

export function writeReport(runDir: string, out = join(runDir, REPORT_FILE)): string {
  const eventsFile = join(runDir, 'events.jsonl');
  if (!existsSync(eventsFile)) throw new Error(`report: ${eventsFile} does not exist (is ${runDir} the out_dir of a hydra train job?)`);
  let skipped = 0;
  const events = readEventsFile(eventsFile, () => skipped++);
  // A damaged line (a crash mid-write, a hand edit) costs that event only; say so rather than drop it silently.
  if (skipped > 0) process.stderr.write(`report: skipped ${skipped} line${skipped === 1 ? '' : 's'} of ${eventsFile} that ${skipped === 1 ? 'is' : 'are'} not an event\n`);
  const html = pageHtml({ mode: 'report', meta: readJobMeta(runDir), events, canStop: false, generatedAt: new Date().toISOString() });
  writeFileAtomicSync(out, [Buffer.from(html)]);
  return out;
}
