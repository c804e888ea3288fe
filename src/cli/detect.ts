import type { Command } from 'commander';

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon detect: not built yet\n');
      process.exitCode = 2;
    });
}
