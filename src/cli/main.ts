#!/usr/bin/env node
/**
 * The `hydra` command. Each subcommand lives in its own module (src/cli/<name>.ts) exporting
 * `register(program: Command): void`, so commands stay small and independent.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { inConfigWords } from '../config/config-words.js';

const SUBCOMMANDS = ['train', 'eval', 'simulate', 'dashboard', 'report', 'submit', 'worker', 'status', 'results'] as const;

async function main(): Promise<void> {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const program = new Command('hydra')
    .description('Train many deep-learning models at once, each larger than a device (Hydra: sharding + SHARP).')
    .version(pkg.version)
    .showHelpAfterError();
  for (const name of SUBCOMMANDS) {
    const mod = (await import(`./${name}.js`)) as { register(p: Command): void };
    mod.register(program);
  }
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  // User-facing errors carry their own explanation; a stack trace from deep inside helps nobody. The library speaks
  // in its API's field names; the user wrote a config.
  const msg = inConfigWords(err instanceof Error ? err.message : String(err));
  console.error(`hydra: ${msg}`);
  if (process.env.HYDRA_DEBUG) console.error(err);
  process.exit(1);
});
