import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
