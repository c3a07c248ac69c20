// Placeholder: the 'eval' command is being written.
import type { Command } from 'commander';
export function register(program: Command): void {
  program.command('eval').description('(not implemented yet)').action(() => {
    throw new Error("'hydra eval' is not implemented yet");
  });
}
