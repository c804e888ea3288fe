/**
 * A rule catalogue several times over, for the cost-with-catalogue-size figures: copy k of every rule file
 * (k ≥ 1) declares its rules under new names (`<name>-x<k>`) and ids, and its correlations and filters refer
 * to the copies of their own rules, so a catalogue of N rules becomes one of N × times rules that match the
 * same events (each copy as selective as its original).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ruleFiles } from '../../src/detect/load.ts';

const NAME = /^name:\s*['"]?([A-Za-z0-9_.-]+)['"]?\s*$/gm;
const ID = /^id:\s*['"]?([0-9a-fA-F-]{36})['"]?\s*$/gm;

function reLiteral(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Writes `times` copies of the rule files under `paths` into a fresh directory; returns it. */
export function multiplyCatalogue(paths: string[], times: number): string {
  const { files, errors } = ruleFiles(paths);
  if (errors.length > 0) throw new Error(`catalogue: ${JSON.stringify(errors)}`);
  const texts = files.map((file) => readFileSync(file, 'utf8'));
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(NAME)) names.add(m[1]!);
    for (const m of text.matchAll(ID)) ids.add(m[1]!.toLowerCase());
  }
  // Longest first, so a name that is a prefix of another is not replaced inside it.
  const nameRe = new RegExp(
    `(?<![\\w-])(${[...names]
      .sort((a, b) => b.length - a.length)
      .map(reLiteral)
      .join('|')})(?![\\w-])`,
    'g',
  );
  const idRe = new RegExp(`(${[...ids].map(reLiteral).join('|')})`, 'gi');
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-bench-catalogue-'));
  for (let k = 0; k < times; k++) {
    const copy = join(dir, `copy${k}`);
    mkdirSync(copy);
    texts.forEach((text, i) => {
      const out =
        k === 0
          ? text
          : text
              .replace(nameRe, (name) => `${name}-x${k}`)
              // A new id per copy: the copy number in the first group of the UUID.
              .replace(idRe, (id) => `${k.toString(16).padStart(8, '0')}${id.slice(8)}`);
      writeFileSync(join(copy, `${i}.yml`), out);
    });
  }
  return dir;
}
