import { BlockList, isIP } from 'node:net';
import { RE2JS } from 're2js';
import { datasetNamed } from '../datasets/index.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { type Condition, ConditionError, parseCondition } from './condition.ts';
import { expandPredicate } from './expand.ts';
import {
  anyString,
  compileField,
  type FieldAccessor,
  type FieldScope,
  type LeafPredicate,
  MATCH,
  MISSING,
  PRESENT,
} from './fields.ts';
import { compileString, escapeWildcards, type StringMatcher } from './patterns.ts';
import type { PlaceholderStore } from './placeholders.ts';

export type EventPredicate = (event: NormalizedEvent) => boolean;

/**
 * Literal values a detection requires of each index key of its dataset (`Dataset.index`: audit's `verb`,
 * `resource`, `code`): an absent key is unconstrained, an empty set can never match.
 */
export type Requirements = Record<string, Set<string> | undefined>;

export interface CompiledDetection {
  match: EventPredicate;
  requires: Requirements;
}

export class DetectionError extends Error {
  /** Path inside the rule document (for file:line). */
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[]) {
    super(message);
    this.path = path;
  }
}

const SUPPORTED = new Set([
  'contains',
  'startswith',
  'endswith',
  'all',
  're',
  'i',
  'm',
  's',
  'cidr',
  'exists',
  'gt',
  'gte',
  'lt',
  'lte',
  'fieldref',
  'base64',
  'base64offset',
  'cased',
  'neq',
  'expand',
]);

/** Modifiers `expand` combines with (the others change what a value is, which a placeholder's list cannot follow). */
const EXPAND_WITH = new Set(['expand', 'cidr', 'contains', 'startswith', 'endswith', 'cased', 'neq']);

function scopeRoot(scope: FieldScope): (e: NormalizedEvent) => unknown {
  const dataset = scope === 'ecs' ? undefined : datasetNamed(scope);
  return dataset ? dataset.fields.root : (e) => e;
}

function leafString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function leafNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** pySigma's base64offset: the three encodings of a value at byte offsets 0, 1 and 2. */
function base64Offsets(value: string): string[] {
  const starts = [0, 2, 3];
  const ends = [undefined, -3, -2];
  const out: string[] = [];
  const len = Buffer.byteLength(value);
  for (let i = 0; i < 3; i++) {
    const b64 = Buffer.concat([Buffer.alloc(i, 0x20), Buffer.from(value)]).toString('base64');
    out.push(b64.slice(starts[i], ends[(len + i) % 3]));
  }
  return out;
}

function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

const ALWAYS: LeafPredicate = () => true;

interface Modifiers {
  set: Set<string>;
  wrap: 'contains' | 'startswith' | 'endswith' | undefined;
}

function parseModifiers(mods: string[], path: (string | number)[]): Modifiers {
  const set = new Set<string>();
  for (const m of mods) {
    if (!SUPPORTED.has(m)) throw new DetectionError(`unsupported modifier "${m}"`, path);
    set.add(m);
  }
  const wraps = (['contains', 'startswith', 'endswith'] as const).filter((w) => set.has(w));
  if (wraps.length > 1) throw new DetectionError(`modifiers ${wraps.join(' and ')} conflict`, path);
  for (const sub of ['i', 'm', 's']) {
    if (set.has(sub) && !set.has('re')) throw new DetectionError(`modifier "${sub}" needs "re"`, path);
  }
  return { set, wrap: wraps[0] };
}

/** Turns one rule value into a leaf predicate (regex, CIDR, comparison or Sigma string). */
function valuePredicate(value: unknown, mods: Modifiers, path: (string | number)[]): LeafPredicate {
  const m = mods.set;
  if (m.has('expand')) throw new DetectionError('"expand" applies to field values only', path);
  if (m.has('re')) {
    if (typeof value !== 'string') throw new DetectionError('"re" needs a string value', path);
    let flags = 0;
    if (m.has('i')) flags |= RE2JS.CASE_INSENSITIVE;
    if (m.has('m')) flags |= RE2JS.MULTILINE;
    if (m.has('s')) flags |= RE2JS.DOTALL;
    let re: RE2JS;
    try {
      re = RE2JS.compile(value, flags);
    } catch (err) {
      throw new DetectionError(
        `bad regular expression ${JSON.stringify(value)}: ${(err as Error).message}`,
        path,
      );
    }
    return (v) => {
      const s = leafString(v);
      return s !== undefined && re.test(s);
    };
  }
  if (m.has('cidr')) {
    if (typeof value !== 'string') throw new DetectionError('"cidr" needs a string value', path);
    const [net, bits] = value.split('/');
    const family = isIP(net ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new DetectionError(`bad CIDR range "${value}"`, path);
    const list = new BlockList();
    list.addSubnet(net!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    return (v) => {
      if (typeof v !== 'string') return false;
      const f = isIP(v);
      return f !== 0 && list.check(v, f === 6 ? 'ipv6' : 'ipv4');
    };
  }
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (!m.has(op)) continue;
    const n = leafNumber(value);
    if (n === undefined) throw new DetectionError(`"${op}" needs a number`, path);
    const cmp =
      op === 'gt'
        ? (x: number) => x > n
        : op === 'gte'
          ? (x: number) => x >= n
          : op === 'lt'
            ? (x: number) => x < n
            : (x: number) => x <= n;
    return (v) => {
      const x = leafNumber(v);
      return x !== undefined && cmp(x);
    };
  }
  if (typeof value === 'boolean') {
    const text = String(value);
    return (v) => v === value || (typeof v === 'string' && v.toLowerCase() === text);
  }
  if (typeof value === 'number' && !mods.wrap && !m.has('base64') && !m.has('base64offset')) {
    const text = String(value);
    return (v) => v === value || v === text;
  }
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new DetectionError(`unsupported value ${JSON.stringify(value)}`, path);
  // SigmaHQ's `field: '*'` (hostPath, capabilities) means "present and not empty", whatever the type.
  if (value === '*' && !mods.wrap && m.size === 0) return nonEmpty;
  let strings = [String(value)];
  if (m.has('base64')) strings = strings.map((s) => escapeWildcards(Buffer.from(s).toString('base64')));
  if (m.has('base64offset')) strings = strings.flatMap((s) => base64Offsets(s).map(escapeWildcards));
  const cased = m.has('cased');
  const matchers: StringMatcher[] = strings.map((s) => {
    const pattern =
      mods.wrap === 'contains'
        ? `*${s}*`
        : mods.wrap === 'startswith'
          ? `${s}*`
          : mods.wrap === 'endswith'
            ? `*${s}`
            : s;
    return compileString(pattern, cased);
  });
  const one = matchers.length === 1 ? matchers[0]! : undefined;
  return (v) => {
    const s = leafString(v);
    if (s === undefined) return false;
    if (one) return one(s);
    for (let k = 0; k < matchers.length; k++) if (matchers[k]!(s)) return true;
    return false;
  };
}

function anyOf(preds: LeafPredicate[]): LeafPredicate {
  if (preds.length === 1) return preds[0]!;
  return (v) => {
    for (let k = 0; k < preds.length; k++) if (preds[k]!(v)) return true;
    return false;
  };
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const sa = leafString(a);
  const sb = leafString(b);
  return sa !== undefined && sa === sb;
}

/** Options of a whole detection or filter section (custom attribute `klaxon`). */
export interface CompileOptions {
  /** `arrays: every`: a field path crossing arrays matches only when every element matches. */
  every?: boolean;
  /** Values of `%placeholders%` for the `expand` modifier. */
  placeholders?: PlaceholderStore;
}

/** One `field|expand` value: a live lookup in the placeholder's values (see expand.ts). */
function expandedValue(
  value: unknown,
  mods: Modifiers,
  opts: CompileOptions,
  path: (string | number)[],
): LeafPredicate {
  if (!opts.placeholders)
    throw new DetectionError('"expand" needs placeholders, and none are configured', path);
  const rest: Modifiers = {
    set: new Set([...mods.set].filter((m) => m !== 'expand' && m !== 'cidr')),
    wrap: mods.wrap,
  };
  try {
    return expandPredicate(value, opts.placeholders, {
      cidr: mods.set.has('cidr'),
      plain: !mods.wrap && !mods.set.has('cased'),
      compile: (s) => valuePredicate(s, rest, path),
    });
  } catch (err) {
    if (err instanceof DetectionError) throw err;
    throw new DetectionError((err as Error).message, path);
  }
}

function compileFieldItem(
  field: string,
  modNames: string[],
  raw: unknown,
  scope: FieldScope,
  path: (string | number)[],
  opts: CompileOptions,
): EventPredicate {
  const mods = parseModifiers(modNames, path);
  for (const m of mods.set)
    if (mods.set.has('expand') && !EXPAND_WITH.has(m))
      throw new DetectionError(`"expand" does not combine with "${m}"`, path);
  const acc: FieldAccessor = compileField(field, scope, opts.every === true);
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new DetectionError(`field "${field}" has an empty list of values`, path);

  if (mods.set.has('exists')) {
    if (values.length !== 1 || typeof values[0] !== 'boolean')
      throw new DetectionError('"exists" needs true or false', path);
    const want = values[0];
    return (e) => (acc.visit(e, ALWAYS) !== MISSING) === want;
  }
  if (values.includes(null)) {
    if (values.length !== 1) throw new DetectionError('null cannot be part of a list of values', path);
    // Sigma null: the field is absent or null.
    return (e) => acc.visit(e, (v) => v !== null && v !== undefined) !== MATCH;
  }
  if (mods.set.has('fieldref')) {
    const refs = values.map((v) => {
      if (typeof v !== 'string') throw new DetectionError('"fieldref" needs field names', path);
      return compileField(v, scope);
    });
    const one = (e: NormalizedEvent, ref: FieldAccessor) =>
      acc.visit(e, (v) => ref.visit(e, (w) => looseEqual(v, w)) === MATCH);
    if (mods.set.has('neq')) return (e) => refs.every((r) => one(e, r) === PRESENT);
    if (mods.set.has('all')) return (e) => refs.every((r) => one(e, r) === MATCH);
    return (e) => refs.some((r) => one(e, r) === MATCH);
  }
  const preds = values.map((v, k) =>
    mods.set.has('expand')
      ? expandedValue(v, mods, opts, [...path, k])
      : valuePredicate(v, mods, [...path, k]),
  );
  if (mods.set.has('neq')) {
    const any = anyOf(preds);
    return (e) => acc.visit(e, any) === PRESENT;
  }
  if (mods.set.has('all')) {
    return (e) => {
      for (let k = 0; k < preds.length; k++) if (acc.visit(e, preds[k]!) !== MATCH) return false;
      return true;
    };
  }
  const any = anyOf(preds);
  return (e) => acc.visit(e, any) === MATCH;
}

function compileKeywords(
  raw: unknown,
  modNames: string[],
  scope: FieldScope,
  path: (string | number)[],
): EventPredicate {
  const mods = parseModifiers(modNames, path);
  const values = Array.isArray(raw) ? raw : [raw];
  // A keyword is searched for anywhere in any string of the event, unless a modifier says otherwise.
  if (!mods.wrap && !mods.set.has('re')) mods.wrap = 'contains';
  const preds = values.map((v, k) => {
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new DetectionError('keywords must be strings', [...path, k]);
    const p = valuePredicate(v, mods, [...path, k]);
    return (s: string) => p(s);
  });
  const root = scopeRoot(scope);
  if (mods.set.has('all')) return (e) => preds.every((p) => anyString(root(e), p));
  return (e) => {
    const r = root(e);
    for (let k = 0; k < preds.length; k++) if (anyString(r, preds[k]!)) return true;
    return false;
  };
}

interface Search {
  match: EventPredicate;
  requires: Requirements;
}

function and(preds: EventPredicate[]): EventPredicate {
  if (preds.length === 1) return preds[0]!;
  if (preds.length === 2) {
    const [a, b] = preds as [EventPredicate, EventPredicate];
    return (e) => a(e) && b(e);
  }
  return (e) => {
    for (let k = 0; k < preds.length; k++) if (!preds[k]!(e)) return false;
    return true;
  };
}

function or(preds: EventPredicate[]): EventPredicate {
  if (preds.length === 1) return preds[0]!;
  return (e) => {
    for (let k = 0; k < preds.length; k++) if (preds[k]!(e)) return true;
    return false;
  };
}

/** The index key a field name constrains in rules of this scope, if any. */
function indexedField(field: string, scope: FieldScope): string | undefined {
  if (scope === 'ecs') return undefined;
  return datasetNamed(scope)?.index.find((k) => k.fields.includes(field))?.key;
}

function literalSet(raw: unknown, mods: string[]): Set<string> | undefined {
  if (mods.length > 0) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  const out = new Set<string>();
  for (const v of values) {
    // A number matches the number or its decimal text (valuePredicate), so it indexes as that text.
    if (typeof v === 'number' && Number.isInteger(v)) out.add(String(v));
    else if (typeof v !== 'string' || /[*?\\]/.test(v)) return undefined;
    else out.add(v.toLowerCase());
  }
  return out.size > 0 ? out : undefined;
}

function intersect(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Set([...a].filter((x) => b.has(x)));
}

function union(sets: (Set<string> | undefined)[]): Set<string> | undefined {
  const out = new Set<string>();
  for (const s of sets) {
    if (!s) return undefined;
    for (const x of s) out.add(x);
  }
  return out;
}

function combineAnd(reqs: Requirements[]): Requirements {
  const out: Requirements = {};
  for (const r of reqs) for (const key of Object.keys(r)) out[key] = intersect(out[key], r[key]);
  return out;
}

/** A key stays constrained under OR only when every branch constrains it. */
function combineOr(reqs: Requirements[]): Requirements {
  const out: Requirements = {};
  const keys = new Set(reqs.flatMap((r) => Object.keys(r)));
  for (const key of keys) {
    const sets = union(reqs.map((r) => r[key]));
    if (sets) out[key] = sets;
  }
  return out;
}

function compileMap(
  map: Record<string, unknown>,
  scope: FieldScope,
  path: (string | number)[],
  opts: CompileOptions,
): Search {
  const preds: EventPredicate[] = [];
  const requires: Requirements = {};
  const entries = Object.entries(map);
  if (entries.length === 0) throw new DetectionError('empty selection', path);
  for (const [key, raw] of entries) {
    const [field, ...mods] = key.split('|');
    const here = [...path, key];
    if (field === '') {
      preds.push(compileKeywords(raw, mods, scope, here));
      continue;
    }
    preds.push(compileFieldItem(field!, mods, raw, scope, here, opts));
    const idx = indexedField(field!, scope);
    if (idx) requires[idx] = intersect(requires[idx], literalSet(raw, mods));
  }
  return { match: and(preds), requires };
}

function compileSearch(
  raw: unknown,
  scope: FieldScope,
  path: (string | number)[],
  opts: CompileOptions,
): Search {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    return compileMap(raw as Record<string, unknown>, scope, path, opts);
  }
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw new DetectionError('empty search identifier', path);
    const maps: Search[] = [];
    const keywords: unknown[] = [];
    raw.forEach((item, k) => {
      if (item !== null && typeof item === 'object' && !Array.isArray(item))
        maps.push(compileMap(item as Record<string, unknown>, scope, [...path, k], opts));
      else keywords.push(item);
    });
    const parts = [...maps];
    if (keywords.length > 0) parts.push({ match: compileKeywords(keywords, [], scope, path), requires: {} });
    return { match: or(parts.map((p) => p.match)), requires: combineOr(parts.map((p) => p.requires)) };
  }
  return { match: compileKeywords(raw, [], scope, path), requires: {} };
}

function compileCondition(c: Condition, searches: Map<string, Search>): Search {
  switch (c.kind) {
    case 'id':
      return searches.get(c.name)!;
    case 'not': {
      const inner = compileCondition(c.item, searches).match;
      return { match: (e) => !inner(e), requires: {} };
    }
    case 'and': {
      const parts = c.items.map((i) => compileCondition(i, searches));
      return { match: and(parts.map((p) => p.match)), requires: combineAnd(parts.map((p) => p.requires)) };
    }
    case 'or': {
      const parts = c.items.map((i) => compileCondition(i, searches));
      return { match: or(parts.map((p) => p.match)), requires: combineOr(parts.map((p) => p.requires)) };
    }
    case 'of': {
      const parts = c.names.map((n) => searches.get(n)!);
      if (c.min === 'all' || c.min >= parts.length) {
        if (c.min !== 'all' && c.min > parts.length) return { match: () => false, requires: {} };
        return { match: and(parts.map((p) => p.match)), requires: combineAnd(parts.map((p) => p.requires)) };
      }
      if (c.min === 1) {
        return { match: or(parts.map((p) => p.match)), requires: combineOr(parts.map((p) => p.requires)) };
      }
      const min = c.min;
      const preds = parts.map((p) => p.match);
      return {
        match: (e) => {
          let n = 0;
          for (const p of preds) if (p(e) && ++n >= min) return true;
          return false;
        },
        requires: combineOr(parts.map((p) => p.requires)),
      };
    }
  }
}

/**
 * Compiles a Sigma `detection` section (or a filter's `filter` section, whose
 * `rules` key is skipped) into one predicate over normalized events.
 */
export function compileDetection(
  detection: Record<string, unknown>,
  scope: FieldScope,
  path: (string | number)[],
  skip: readonly string[] = [],
  opts: CompileOptions = {},
): CompiledDetection {
  const searches = new Map<string, Search>();
  for (const [name, raw] of Object.entries(detection)) {
    if (name === 'condition' || name === 'timeframe' || skip.includes(name)) continue;
    searches.set(name, compileSearch(raw, scope, [...path, name], opts));
  }
  const rawCond = detection.condition;
  const conds = Array.isArray(rawCond) ? rawCond : [rawCond];
  if (conds.length === 0 || conds.some((c) => typeof c !== 'string'))
    throw new DetectionError('condition must be a string', [...path, 'condition']);
  const names = [...searches.keys()];
  const parts = conds.map((c) => {
    try {
      return compileCondition(parseCondition(c as string, names), searches);
    } catch (err) {
      if (err instanceof ConditionError)
        throw new DetectionError(`condition: ${err.message}`, [...path, 'condition']);
      throw err;
    }
  });
  return { match: or(parts.map((p) => p.match)), requires: combineOr(parts.map((p) => p.requires)) };
}
