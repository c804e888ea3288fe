import type { Command } from 'commander';

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon replay: not built yet\n');
      process.exitCode = 2;
    });
}
