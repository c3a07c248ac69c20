/** `hydra report RUN_DIR`: (re)write RUN_DIR/report.html, the job's self-contained report, from its events.jsonl. */
import type { Command } from 'commander';
import { writeReport } from '../dashboard/report.js';

export function register(program: Command): void {
  program
    .command('report')
    .description("write a job's self-contained report.html (plots and tables, no server or network needed) from its run directory")
    .argument('<run-dir>', 'the out_dir of a hydra train job (holds events.jsonl)')
    .option('--out <file>', 'write here instead of <run-dir>/report.html')
    .action((dir: string, o: { out?: string }) => {
      process.stdout.write(`wrote ${writeReport(dir, o.out)}\n`);
    });
}
