import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon serve: not built yet\n');
      process.exitCode = 2;
    });
}
