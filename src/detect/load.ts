import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { datasetForLogsource } from '../datasets/index.ts';
import { rulesLoaded, rulesRejected } from '../metrics.ts';
import { RuleTests } from '../schema/rule.ts';
import { DetectionError } from './detection.ts';
import type { FieldScope } from './fields.ts';
import { KINDS, kindOf } from './kinds/index.ts';
import { type Built, DocError, type LinkContext, type RuleKind } from './kinds/kind.ts';
import { defaultPlaceholders, type PlaceholderStore } from './placeholders.ts';
import type {
  CorrelationRule,
  DetectionRule,
  FirstSeenRule,
  LoadedDoc,
  Rule,
  RuleKindName,
  RuleSet,
} from './ruleset.ts';

export { slug } from './kinds/meta.ts';

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

interface Pending {
  doc: LoadedDoc;
  kind: RuleKind<Rule>;
  yaml: Document;
  lc: LineCounter;
}

/** The id and declared name of a document, as other rules may refer to it. */
function refsOf(raw: Record<string, unknown>): string[] {
  return [raw.id, raw.name].filter((v): v is string => typeof v === 'string');
}

function parseTests(doc: LoadedDoc): void {
  if (doc.raw.tests === undefined) return;
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

/**
 * Loads Sigma detection, correlation and filter rules from files and
 * directories (`**\/*.yml|*.yaml`, several documents per file). Every problem is
 * reported with `file:line`; a bad document never stops the others. Each kind of
 * document is compiled by its own module (kinds/); this reads, validates, keeps
 * ids and names unique and links the references between documents.
 */
export function loadRules(paths: string[], options: LoadOptions = {}): LoadResult {
  const placeholders = options.placeholders ?? defaultPlaceholders();
  const { files, errors } = ruleFiles(paths);
  const docs: LoadedDoc[] = [];
  const pending: Pending[] = [];
  /** Ids and names of refused rule documents, so a reference to one says why it does not resolve. */
  const refused = new Set<string>();
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
    const yamlDocs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, merge: true });
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
      const kind = kindOf(obj);
      const loaded: LoadedDoc = { file, line: start, type: kind.kind, raw: obj };
      docs.push(loaded);
      const problems = kind.validate(obj);
      if (problems.length > 0) {
        for (const p of problems)
          reject(`${file}:${lineAt(yd, lc, p.path)}`, `${kind.kind} rule: ${p.reason}`);
        if (kind.referable) for (const r of refsOf(obj)) refused.add(r);
        continue;
      }
      pending.push({ doc: loaded, kind, yaml: yd, lc });
    }
  }

  const built: Built = { detection: [], correlation: [], first_seen: [], filter: [] };
  const byRef = new Map<string, DetectionRule | CorrelationRule>();
  const docOf = new Map<Rule, LoadedDoc>();
  const seenNames = new Map<string, string>();
  const seenIds = new Map<string, string>();

  for (const { doc, kind, yaml, lc } of pending) {
    try {
      parseTests(doc);
      const list = built[kind.kind] as Rule[];
      const rule = kind.build(doc.raw, {
        file: doc.file,
        line: doc.line,
        index: list.length,
        scopeOf,
        placeholders,
      });
      if (kind.referable || kind.named) {
        const named = rule as DetectionRule | CorrelationRule | FirstSeenRule;
        const dupName = seenNames.get(named.name);
        if (dupName)
          throw new DocError(`duplicate rule name "${named.name}" (first in ${dupName})`, ['name']);
        const dupId = seenIds.get(named.id);
        if (dupId) throw new DocError(`duplicate rule id ${named.id} (first in ${dupId})`, ['id']);
        seenNames.set(named.name, `${doc.file}:${doc.line}`);
        seenIds.set(named.id, `${doc.file}:${doc.line}`);
        if (named.kind !== 'first_seen') {
          byRef.set(named.id, named);
          if (named.declaredName) byRef.set(named.declaredName, named);
        }
      }
      doc.rule = rule;
      docOf.set(rule, doc);
      list.push(rule);
    } catch (err) {
      if (!(err instanceof DetectionError || err instanceof DocError)) throw err;
      reject(`${doc.file}:${lineAt(yaml, lc, err.path)}`, err.message);
      if (kind.referable) for (const r of refsOf(doc.raw)) refused.add(r);
    }
  }

  // References between documents: a rule that cannot work is refused like any other, and leaves the set.
  const unlinked = new Set<Rule>();
  const ctx: LinkContext = {
    byRef,
    refused,
    built,
    reject(rule, reason) {
      if (unlinked.has(rule)) return;
      unlinked.add(rule);
      docOf.get(rule)!.rule = undefined;
      reject(`${rule.file}:${rule.line}`, reason);
    },
  };
  const lists = built as Record<RuleKindName, Rule[]>;
  for (const kind of KINDS) {
    if (!kind.link) continue;
    kind.link(lists[kind.kind], ctx);
    for (const k of KINDS) lists[k.kind] = lists[k.kind].filter((r) => !unlinked.has(r));
  }

  for (const kind of KINDS) rulesLoaded.set({ type: kind.kind }, lists[kind.kind].length);
  return {
    ruleset: {
      rules: built.detection,
      correlations: built.correlation,
      firstSeen: built.first_seen,
      filters: built.filter,
      docs,
      placeholders,
    },
    errors,
  };
}
