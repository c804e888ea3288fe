import type { Command } from 'commander';

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon rules: not built yet\n');
      process.exitCode = 2;
    });
}
