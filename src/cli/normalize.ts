import type { Command } from 'commander';

export function registerNormalize(program: Command): void {
  program
    .command('normalize')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon normalize: not built yet\n');
      process.exitCode = 2;
    });
}
