import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { normalizeAny } from '../normalize/index.ts';
import { expandPaths, readRecords } from '../sources/files.ts';

/** Writes, waiting when the stream's buffer is full, so a big file does not pile up in memory. */
async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line)) await once(out, 'drain');
}

/**
 * Normalizes every record of the given files and directories: events as JSON
 * lines on `out`, `file:line: reason` on `err`. Returns the exit code: 0 unless
 * no file could be opened.
 */
export async function runNormalize(
  paths: readonly string[],
  cluster: string,
  out: Writable,
  err: Writable,
): Promise<number> {
  const { files, errors } = await expandPaths(paths);
  for (const e of errors) await writeLine(err, `${e.path}: ${e.error}\n`);
  let opened = 0;
  for (const file of files) {
    let failedToOpen = false;
    for await (const record of readRecords(file)) {
      if ('error' in record) {
        if (record.where === file) failedToOpen = true;
        await writeLine(err, `${record.where}: ${record.error}\n`);
        continue;
      }
      const result = normalizeAny(record.raw, { cluster });
      if (result.ok) await writeLine(out, `${JSON.stringify(result.event)}\n`);
      else await writeLine(err, `${record.where}: ${result.reason}\n`);
    }
    if (!failedToOpen) opened++;
  }
  if (opened === 0) {
    await writeLine(err, 'klaxon normalize: no file could be read\n');
    return 1;
  }
  return 0;
}

export function registerNormalize(program: Command): void {
  program
    .command('normalize')
    .description(
      'print the normalized (ECS, redacted) events of audit log, Falco alert and Hubble flow files as JSON lines',
    )
    .argument(
      '<paths...>',
      'files or directories: JSON lines, EventList or JSON-array documents, optionally gzipped',
    )
    .option('--cluster <name>', 'cluster name for orchestrator.cluster.name', 'local')
    .action(async (paths: string[], options: { cluster: string }) => {
      // `klaxon normalize ... | head` closes stdout early; that is a normal end, not a crash.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EPIPE') process.exit(0);
        throw error;
      });
      process.exitCode = await runNormalize(paths, options.cluster, process.stdout, process.stderr);
    });
}
