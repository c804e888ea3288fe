import { createHash } from 'node:crypto';
import { Level } from '../../schema/alert.ts';
import { KlaxonRuleOptions } from '../../schema/rule.ts';
import type { RuleMeta } from '../ruleset.ts';
import { DocError } from './kind.ts';

/** A kebab-case slug of a title: rule names for rules that declare none. */
export function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The metadata an alert carries, and the name correlations refer to. */
export function commonMeta(
  raw: Record<string, unknown>,
  file: string,
  line: number,
): RuleMeta & { declaredName?: string } {
  const title = String(raw.title);
  const declaredName = optionalString(raw.name);
  const name = declaredName ?? slug(title);
  const levelParse = Level.safeParse(raw.level);
  return {
    id: optionalString(raw.id) ?? uuidFrom(`${file}:${name}`),
    name,
    declaredName,
    title,
    description: optionalString(raw.description),
    references: Array.isArray(raw.references) ? stringList(raw.references) : undefined,
    level: levelParse.success ? levelParse.data : ('medium' as const),
    tags: stringList(raw.tags),
    file,
    line,
  };
}

/** The custom attribute `klaxon` (ignored by other Sigma tools). */
export function klaxonOptions(raw: Record<string, unknown>): KlaxonRuleOptions {
  if (raw.klaxon === undefined) return {};
  const parsed = KlaxonRuleOptions.safeParse(raw.klaxon);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DocError(`klaxon.${issue.path.join('.')}: ${issue.message}`, [
      'klaxon',
      ...issue.path.map((p) => (typeof p === 'number' ? p : String(p))),
    ]);
  }
  return parsed.data;
}
