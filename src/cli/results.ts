/**
 * `hydra results --queue URL --store DIR|s3://… --out DIR [--job NAME]`: a cluster job's results.json, results.csv,
 * events.jsonl and models/ — the same files, by the same writers, as `hydra train` writes for a local run.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../data/atomic-write.js';
import { saveModelWeights } from '../io/hf-families.js';
import { prepareOutDir } from '../io/out-dir.js';
import { lockOutDir } from '../io/run-lock.js';
import { renderJobSummary, renderResultsTable } from '../report/results-table.js';
import { describeFailure, writeResults } from '../report/write-results.js';
import { log, openCheckedStore, openQueue, queueFlags, type QueueFlags } from './cluster-common.js';

export function register(program: Command): void {
  queueFlags(program.command('results').description("write a cluster job's results files and weights, as hydra train does"))
    .requiredOption('--store <dir|url>', 'the shared store the job was submitted to')
    .requiredOption('--out <dir>', 'output directory')
    .option('--job <name>', 'the job (needed when the queue has several)')
    .action(async (o: QueueFlags & { store: string; out: string; job?: string }) => {
      const { REDIS_JOBS } = await import('../cluster/spec.js');
      const { collectJob, readSpec } = await import('../cluster/collect.js');
      const { configOfSpec } = await import('./cluster-job.js');
      // The same out_dir rules as hydra train, checked before anything else: a bad --out fails in a moment.
      const out = prepareOutDir(o.out, '--out');
      const redis = await openQueue(o);
      let name = o.job;
      try {
        if (name === undefined) {
          const jobs = (await redis.smembers(REDIS_JOBS)).sort();
          if (jobs.length !== 1) throw new Error(`--job: ${jobs.length === 0 ? 'no job on this queue' : `the queue has ${jobs.length} jobs (${jobs.join(', ')}); name one`}`);
          name = jobs[0];
        }
      } finally {
        redis.disconnect();
      }
      const store = await openCheckedStore(o.store, 'hydra results', false);
      const spec = await readSpec(store, name);
      const { config, variants } = configOfSpec(spec);
      const collected = await collectJob(store, spec, new Map(variants.map((v) => [v.name, v.hparams])), config.policy);
      const lock = lockOutDir(out, 'hydra results');
      try {
        const problems: string[] = [];
        const eventsPath = join(out, 'events.jsonl');
        try {
          writeFileAtomicSync(eventsPath, [Buffer.from(collected.events.map((e) => `${JSON.stringify(e)}\n`).join(''))]);
        } catch (err) {
          problems.push(`events.jsonl: ${(err as Error).message}`);
        }
        const models = new Map(variants.map((v) => [v.name, v.spec.model]));
        const written = await writeResults(out, collected.result, {
          name: spec.name, config: spec.config, startedAt: spec.submittedAt, finishedAt: new Date().toISOString(),
          specs: new Map(variants.map((v) => [v.name, v.spec])),
          saveModel: (dir, m) => saveModelWeights(dir, models.get(m.name)!, m.weights),
          problems,
        });
        process.stdout.write(`\n${renderResultsTable(collected.result)}\n\n${renderJobSummary(collected.result)}\n\n`);
        for (const [m, step] of collected.unfinished) log(`${m}: not finished yet (${step} steps committed)`);
        const failures = [...problems, ...written.failures.map(describeFailure)];
        if (failures.length > 0) {
          log(`not everything could be written:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
          process.exitCode = 1;
        } else {
          process.stdout.write(`wrote ${join(out, 'results.json')}, results.csv, events.jsonl and models/\n`);
        }
      } finally {
        lock.release();
      }
    });
}
