import type { Command } from 'commander';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('(not built yet)')
    .action(() => {
      process.stderr.write('klaxon ingest: not built yet\n');
      process.exitCode = 2;
    });
}
