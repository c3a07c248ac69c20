// Placeholder: the 'simulate' command is being written.
import type { Command } from 'commander';
export function register(program: Command): void {
  program.command('simulate').description('(not implemented yet)').action(() => {
    throw new Error("'hydra simulate' is not implemented yet");
  });
}
