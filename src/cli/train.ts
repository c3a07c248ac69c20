// Placeholder: the 'train' command is being written.
import type { Command } from 'commander';
export function register(program: Command): void {
  program.command('train').description('(not implemented yet)').action(() => {
    throw new Error("'hydra train' is not implemented yet");
  });
}
