import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

/**
 * A module of this repository as it was at git revision `rev` (`file`: its path from the repository root), its
 * relative imports pointed at this checkout: an old implementation benchmarked beside the current one in the
 * same rounds.
 */
export async function importAt<M>(rev: string, file: string): Promise<M> {
  const source = execFileSync('git', ['show', `${rev}:${file}`], { encoding: 'utf8' });
  const here = path.resolve(import.meta.dirname, '../..', path.dirname(file));
  const rewritten = source.replace(
    /from '(\.{1,2}\/[^']+)'/g,
    (_, rel: string) => `from '${path.join(here, rel)}'`,
  );
  const base = path.basename(file, '.ts');
  const copy = path.join(mkdtempSync(path.join(os.tmpdir(), `klaxon-${base}-`)), `${base}-${rev}.ts`);
  writeFileSync(copy, rewritten);
  return (await import(copy)) as M;
}

/** What a bench set against an old revision is asked: quick or thorough, and which revision (`--against REV`). */
export interface AgainstOptions {
  quick: boolean;
  against?: string;
}

/**
 * Runs such a bench from its command line (`[--quick] [--against REV]`) and prints its detail lines, then its
 * figures as one JSON line.
 */
export async function runAgainstFromCommandLine(
  bench: (options: AgainstOptions) => Promise<{ detail: string[] }>,
): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, against: { type: 'string' } },
  });
  const figures = await bench({
    quick: values.quick,
    ...(values.against ? { against: values.against } : {}),
  });
  for (const line of figures.detail) console.log(line);
  console.log(JSON.stringify(figures));
}
