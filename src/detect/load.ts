import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { datasetForLogsource, datasetNamed, knownLogsources } from '../datasets/index.ts';
import { rulesLoaded, rulesRejected } from '../metrics.ts';
import { Level } from '../schema/alert.ts';
import { durationMs, KlaxonRuleOptions, RuleTests } from '../schema/rule.ts';
import { compileDetection, DetectionError } from './detection.ts';
import { compileField, type FieldScope } from './fields.ts';
import { defaultPlaceholders, type PlaceholderStore } from './placeholders.ts';
import type {
  CorrelationCondition,
  CorrelationRule,
  CorrelationType,
  DetectionRule,
  FilterRule,
  LoadedDoc,
  RuleSet,
} from './ruleset.ts';
import { validateDoc } from './validate.ts';

export interface LoadError {
  /** `file:line` */
  where: string;
  reason: string;
}

export interface LoadOptions {
  /** Values of the rules' `%placeholders%` (`expand` modifier); default: the built-in placeholders. */
  placeholders?: PlaceholderStore;
}

export interface LoadResult {
  ruleset: RuleSet;
  errors: LoadError[];
}

const DEFAULT_SUPPRESS_WINDOW = '10m';

/** Files to load: the YAML files named, and those under the directories named, in a stable order. */
export function ruleFiles(paths: string[]): { files: string[]; errors: LoadError[] } {
  const files: string[] = [];
  const errors: LoadError[] = [];
  const visit = (p: string) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch (err) {
      errors.push({ where: p, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = join(p, name);
        if (name.startsWith('.')) continue;
        if (statSync(child).isDirectory() || /\.ya?ml$/.test(name)) visit(child);
      }
    } else files.push(p);
  };
  for (const p of paths) visit(p);
  return { files, errors };
}

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

/** Line (1-based) of the YAML node at `path`, or of its nearest ancestor that exists. */
function lineAt(doc: Document, lc: LineCounter, path: (string | number)[]): number {
  let node: unknown = doc.contents;
  let pos = isNode(node) && node.range ? node.range[0] : 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) pos = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!isNode(item)) break;
      if (item.range) pos = item.range[0];
      node = item;
    } else break;
  }
  return lc.linePos(pos).line;
}

/** The dataset whose events a logsource selects (`src/datasets`), by its name. */
function scopeOf(logsource: Record<string, string>): Exclude<FieldScope, 'ecs'> | undefined {
  return datasetForLogsource(logsource)?.name;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

class DocError extends Error {
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[] = []) {
    super(message);
    this.path = path;
  }
}

interface Pending {
  doc: LoadedDoc;
  yaml: Document;
  lc: LineCounter;
}

function commonMeta(raw: Record<string, unknown>, file: string, line: number) {
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

function klaxonOptions(raw: Record<string, unknown>): KlaxonRuleOptions {
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

function buildDetection(
  raw: Record<string, unknown>,
  file: string,
  line: number,
  index: number,
  placeholders: PlaceholderStore,
): DetectionRule {
  const logsource = raw.logsource as Record<string, string>;
  const scope = scopeOf(logsource);
  if (!scope)
    throw new DocError(
      `logsource ${JSON.stringify(logsource)} is not one Klaxon reads (${knownLogsources()})`,
      ['logsource'],
    );
  const opts = klaxonOptions(raw);
  const compiled = compileDetection(raw.detection as Record<string, unknown>, scope, ['detection'], [], {
    every: opts.arrays === 'every',
    placeholders,
  });
  const byNames = opts.suppress?.by ?? [...datasetNamed(scope)!.suppressBy];
  return {
    kind: 'detection',
    index,
    ...commonMeta(raw, file, line),
    scope,
    logsource,
    match: compiled.match,
    requires: compiled.requires,
    filters: [],
    correlations: [],
    generates: true,
    suppress: {
      by: byNames.map((f) => compileField(f, scope)),
      byNames,
      windowMs: durationMs(opts.suppress?.window ?? DEFAULT_SUPPRESS_WINDOW),
    },
    severityFromFalco: opts.severity === 'falco-priority',
  };
}

const CORRELATION_TYPES = new Set(['event_count', 'value_count', 'temporal', 'temporal_ordered']);

function buildCorrelation(raw: Record<string, unknown>, file: string, line: number): CorrelationRule {
  const c = raw.correlation as Record<string, unknown>;
  const type = String(c.type);
  if (!CORRELATION_TYPES.has(type))
    throw new DocError(
      `correlation type ${type} is not supported (event_count, value_count, temporal, temporal_ordered)`,
      ['correlation', 'type'],
    );
  const timespan = String(c.timespan);
  if (!/^[0-9]+[smhd]$/.test(timespan))
    throw new DocError(`timespan "${timespan}" must be a number and one of s, m, h, d`, [
      'correlation',
      'timespan',
    ]);
  const cond = c.condition as Record<string, unknown> | undefined;
  const condition: CorrelationCondition = {};
  let field: string | undefined;
  if (cond) {
    for (const [k, v] of Object.entries(cond)) {
      if (k === 'field') {
        if (typeof v !== 'string')
          throw new DocError('condition.field must be one field name', ['correlation', 'condition']);
        field = v;
      } else if (['gt', 'gte', 'lt', 'lte', 'eq', 'neq'].includes(k) && typeof v === 'number') {
        condition[k as keyof CorrelationCondition] = v;
      } else throw new DocError(`condition: unknown operator "${k}"`, ['correlation', 'condition', k]);
    }
    if (Object.keys(condition).length === 0)
      throw new DocError('condition needs a comparison (gt, gte, lt, lte, eq, neq)', [
        'correlation',
        'condition',
      ]);
  }
  if (type === 'value_count' && !field)
    throw new DocError('value_count needs condition.field', ['correlation', 'condition']);
  if ((type === 'event_count' || type === 'value_count') && !cond)
    throw new DocError(`${type} needs a condition`, ['correlation']);
  const aliases: Record<string, Record<string, string>> = {};
  for (const [alias, map] of Object.entries((c.aliases as Record<string, unknown>) ?? {})) {
    if (map === null || typeof map !== 'object')
      throw new DocError(`alias ${alias} must map rule names to fields`, ['correlation', 'aliases', alias]);
    aliases[alias] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)]));
  }
  return {
    kind: 'correlation',
    ...commonMeta(raw, file, line),
    type: type as CorrelationType,
    rules: [],
    groupBy: stringList(c['group-by']),
    aliases,
    timespanMs: durationMs(timespan),
    condition: cond ? condition : undefined,
    field,
    generate: raw.generate === true,
    correlations: [],
    generates: true,
  };
}

function buildFilter(
  raw: Record<string, unknown>,
  file: string,
  line: number,
  placeholders: PlaceholderStore,
): FilterRule {
  const logsource = raw.logsource as Record<string, string>;
  const scope = scopeOf(logsource) ?? 'ecs';
  const f = raw.filter as Record<string, unknown>;
  const opts = klaxonOptions(raw);
  const compiled = compileDetection(f, scope, ['filter'], ['rules'], {
    every: opts.arrays === 'every',
    placeholders,
  });
  // The Sigma schema requires a non-empty list of rule ids or names (pySigma's `any` is not in it).
  const rules = stringList(f.rules);
  return {
    kind: 'filter',
    id: optionalString(raw.id),
    title: String(raw.title),
    file,
    line,
    logsource,
    rules,
    match: compiled.match,
  };
}

/** A filter applies to a rule whose logsource has every key/value of the filter's logsource. */
function logsourceCovers(filter: Record<string, string>, rule: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(filter)) {
    if (k === 'definition') continue;
    if (typeof v !== 'string' || rule[k]?.toLowerCase() !== v.toLowerCase()) return false;
  }
  return true;
}

/**
 * Loads Sigma detection, correlation and filter rules from files and
 * directories (`**\/*.yml|*.yaml`, several documents per file). Every problem is
 * reported with `file:line`; a bad document never stops the others.
 */
export function loadRules(paths: string[], options: LoadOptions = {}): LoadResult {
  const placeholders = options.placeholders ?? defaultPlaceholders();
  const { files, errors } = ruleFiles(paths);
  const docs: LoadedDoc[] = [];
  const pending: Pending[] = [];
  const reject = (where: string, reason: string) => {
    errors.push({ where, reason });
    rulesRejected.inc();
  };

  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      reject(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      continue;
    }
    const lc = new LineCounter();
    const yamlDocs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true });
    if (!Array.isArray(yamlDocs)) continue;
    for (const yd of yamlDocs) {
      const start = lineAt(yd, lc, []);
      if (yd.errors.length > 0) {
        const e = yd.errors[0]!;
        reject(`${file}:${e.linePos?.[0]?.line ?? start}`, `YAML: ${e.message.split('\n')[0]}`);
        continue;
      }
      const raw: unknown = yd.toJS();
      if (raw === null || raw === undefined) continue;
      if (typeof raw !== 'object' || Array.isArray(raw)) {
        reject(`${file}:${start}`, 'a rule document must be a YAML map');
        continue;
      }
      const obj = raw as Record<string, unknown>;
      const type = 'correlation' in obj ? 'correlation' : 'filter' in obj ? 'filter' : 'detection';
      const loaded: LoadedDoc = { file, line: start, type, raw: obj };
      docs.push(loaded);
      const problems = validateDoc(type, obj);
      if (problems.length > 0) {
        for (const p of problems) reject(`${file}:${lineAt(yd, lc, p.path)}`, `${type} rule: ${p.reason}`);
        continue;
      }
      pending.push({ doc: loaded, yaml: yd, lc });
    }
  }

  const rules: DetectionRule[] = [];
  const correlations: CorrelationRule[] = [];
  const filters: FilterRule[] = [];
  const byRef = new Map<string, DetectionRule | CorrelationRule>();
  const seenNames = new Map<string, string>();
  const seenIds = new Map<string, string>();

  for (const { doc, yaml, lc } of pending) {
    const where = (path: (string | number)[]) => `${doc.file}:${lineAt(yaml, lc, path)}`;
    try {
      if (doc.raw.tests !== undefined) {
        const t = RuleTests.safeParse(doc.raw.tests);
        if (!t.success) {
          const issue = t.error.issues[0]!;
          throw new DocError(`tests.${issue.path.join('.')}: ${issue.message}`, [
            'tests',
            ...issue.path.map((p) => (typeof p === 'number' ? p : String(p))),
          ]);
        }
        doc.tests = t.data;
      }
      if (doc.type === 'filter') {
        const f = buildFilter(doc.raw, doc.file, doc.line, placeholders);
        doc.rule = f;
        filters.push(f);
        continue;
      }
      const rule =
        doc.type === 'correlation'
          ? buildCorrelation(doc.raw, doc.file, doc.line)
          : buildDetection(doc.raw, doc.file, doc.line, rules.length, placeholders);
      const dupName = seenNames.get(rule.name);
      if (dupName) throw new DocError(`duplicate rule name "${rule.name}" (first in ${dupName})`, ['name']);
      const dupId = seenIds.get(rule.id);
      if (dupId) throw new DocError(`duplicate rule id ${rule.id} (first in ${dupId})`, ['id']);
      seenNames.set(rule.name, `${doc.file}:${doc.line}`);
      seenIds.set(rule.id, `${doc.file}:${doc.line}`);
      byRef.set(rule.id, rule);
      if (rule.declaredName) byRef.set(rule.declaredName, rule);
      doc.rule = rule;
      if (rule.kind === 'correlation') correlations.push(rule);
      else rules.push(rule);
    } catch (err) {
      if (err instanceof DetectionError || err instanceof DocError) reject(where(err.path), err.message);
      else throw err;
    }
  }

  // Correlations refer to rules (and to other correlations) by id or name.
  const resolved: CorrelationRule[] = [];
  for (const corr of correlations) {
    const doc = docs.find((d) => d.rule === corr)!;
    const refs = stringList((doc.raw.correlation as Record<string, unknown>).rules);
    const targets = refs.map((r) => byRef.get(r));
    const missing = refs.filter((_, k) => !targets[k]);
    if (missing.length > 0 || refs.length === 0) {
      reject(
        `${corr.file}:${corr.line}`,
        `correlation refers to unknown rule(s): ${missing.join(', ') || '(none)'}`,
      );
      doc.rule = undefined;
      continue;
    }
    corr.rules = targets as (DetectionRule | CorrelationRule)[];
    resolved.push(corr);
  }
  for (const corr of resolved) {
    for (const target of corr.rules) target.correlations.push(corr);
  }
  for (const r of [...rules, ...resolved]) {
    // Sigma: rules referred to by correlations produce no alerts of their own unless a correlation says `generate`.
    r.generates = r.correlations.length === 0 || r.correlations.some((c) => c.generate);
  }

  for (const f of filters) {
    const targets = f.rules
      .map((ref) => byRef.get(ref))
      .filter((r): r is DetectionRule => r?.kind === 'detection');
    const unknown = f.rules.filter((ref) => byRef.get(ref)?.kind !== 'detection');
    if (unknown.length > 0)
      errors.push({
        where: `${f.file}:${f.line}`,
        reason: `filter refers to unknown detection rule(s): ${unknown.join(', ')}`,
      });
    for (const r of targets) if (logsourceCovers(f.logsource, r.logsource)) r.filters.push(f.match);
  }

  rulesLoaded.set({ type: 'detection' }, rules.length);
  rulesLoaded.set({ type: 'correlation' }, resolved.length);
  rulesLoaded.set({ type: 'filter' }, filters.length);
  return { ruleset: { rules, correlations: resolved, filters, docs, placeholders }, errors };
}
