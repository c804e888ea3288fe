import { datasetNamed } from '../datasets/index.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { type Condition, ConditionError, parseCondition } from './condition.ts';
import { anyString, compileField, type FieldAccessor, type FieldScope, MATCH, PRESENT } from './fields.ts';
import { type Chain, parseChain } from './modifiers.ts';
import type { PlaceholderStore } from './placeholders.ts';
import { anyOf, ItemError } from './values.ts';

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

function scopeRoot(scope: FieldScope): (e: NormalizedEvent) => unknown {
  const dataset = scope === 'ecs' ? undefined : datasetNamed(scope);
  return dataset ? dataset.fields.root : (e) => e;
}

/** Options of a whole detection or filter section (custom attribute `klaxon`). */
export interface CompileOptions {
  /** `arrays: every`: a field path crossing arrays matches only when every element matches. */
  every?: boolean;
  /** Values of `%placeholders%` for the `expand` modifier. */
  placeholders?: PlaceholderStore;
}

/**
 * One evaluation of one event by a detector (`beginEvaluation` … `endEvaluation`): while it lasts, a compiled
 * item or detection shared by several rules is computed once and its result reused. Outside one (rule tests,
 * callers that mutate an event between two calls), nothing is reused.
 */
let evaluation = 0;
let evaluating = false;

export function beginEvaluation(): void {
  evaluation++;
  evaluating = true;
}

export function endEvaluation(): void {
  evaluating = false;
}

/** `pred`, computed at most once per evaluation. */
function once(pred: EventPredicate): EventPredicate {
  let at = 0;
  let value = false;
  return (e) => {
    if (evaluating && at === evaluation) return value;
    value = pred(e);
    if (evaluating) at = evaluation;
    return value;
  };
}

/**
 * Compiled items and detections by what they are made of, per placeholder store (what an `expand` item
 * matches depends on it): rules that share an item (`verb: create`, `objectRef.resource: pods`, a list of
 * trusted networks) or a whole detection (a rule copied under another name) share one predicate, evaluated
 * once per event however many rules ask.
 */
const sharedByStore = new WeakMap<PlaceholderStore, Map<string, EventPredicate>>();
const sharedWithout = new Map<string, EventPredicate>();

function shared(key: string, opts: CompileOptions, compile: () => EventPredicate): EventPredicate {
  let table = sharedWithout;
  if (opts.placeholders) {
    table = sharedByStore.get(opts.placeholders) ?? new Map();
    sharedByStore.set(opts.placeholders, table);
  }
  const found = table.get(key);
  if (found) return found;
  const made = once(compile());
  table.set(key, made);
  return made;
}

/** Checks an item's modifiers; a problem names the item as written (`field|modifiers`). */
function chainOf(
  key: string,
  mods: string[],
  context: 'field' | 'keyword',
  path: (string | number)[],
): Chain {
  try {
    return parseChain(mods, context);
  } catch (err) {
    if (err instanceof ItemError) throw new DetectionError(`${key}: ${err.message}`, path);
    throw err;
  }
}

/** Runs a compile step of one item, turning a bad value into a DetectionError at `path`. */
function compiling<T>(key: string, path: (string | number)[], step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof ItemError) throw new DetectionError(`${key}: ${err.message}`, path);
    throw err;
  }
}

function compileFieldItem(
  key: string,
  field: string,
  modNames: string[],
  raw: unknown,
  scope: FieldScope,
  path: (string | number)[],
  opts: CompileOptions,
): EventPredicate {
  const chain = chainOf(key, modNames, 'field', path);
  const acc: FieldAccessor = compileField(field, scope, opts.every === true);
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new DetectionError(`field "${field}" has an empty list of values`, path);
  const { item, leaf, all, neq } = chain;
  if (item) return compiling(key, path, () => item({ acc, values, scope, all, neq }));
  if (values.includes(null)) {
    if (values.length !== 1) throw new DetectionError('null cannot be part of a list of values', path);
    if (chain.names.length > 0)
      throw new DetectionError(`${key}: null (absent or null) takes no modifier`, path);
    // Sigma null: the field is absent or null.
    return (e) => acc.visit(e, (v) => v !== null && v !== undefined) !== MATCH;
  }
  const env = { placeholders: opts.placeholders };
  const preds = values.map((v, k) => compiling(key, [...path, k], () => leaf!(v, env)));
  if (neq) {
    const any = anyOf(preds);
    return (e) => acc.visit(e, any) === PRESENT;
  }
  if (all) {
    return (e) => {
      for (let k = 0; k < preds.length; k++) if (acc.visit(e, preds[k]!) !== MATCH) return false;
      return true;
    };
  }
  const any = anyOf(preds);
  return (e) => acc.visit(e, any) === MATCH;
}

function compileKeywords(
  key: string,
  raw: unknown,
  modNames: string[],
  scope: FieldScope,
  path: (string | number)[],
): EventPredicate {
  const chain = chainOf(key, modNames, 'keyword', path);
  const values = Array.isArray(raw) ? raw : [raw];
  const preds = values.map((v, k) => {
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new DetectionError('keywords must be strings', [...path, k]);
    const p = compiling(key, [...path, k], () => chain.leaf!(v, {}));
    return (s: string) => p(s);
  });
  const root = scopeRoot(scope);
  if (chain.all) return (e) => preds.every((p) => anyString(root(e), p));
  return (e) => {
    const r = root(e);
    for (let k = 0; k < preds.length; k++) if (anyString(r, preds[k]!)) return true;
    return false;
  };
}

interface Search {
  match: EventPredicate;
  requires: Requirements;
  /** What evaluating it costs, roughly, in field comparisons: conjunctions test their cheapest parts first. */
  cost: number;
}

/**
 * What a modifier adds to an item's cost, beyond one field read and compare. A rule written "not trusted
 * network and system identity" then tests the identity (a prefix) before the networks (an address parsed and
 * looked up), and stops there for nearly every event; the result is the same, the predicates being pure.
 */
const MODIFIER_COST: Record<string, number> = {
  re: 8,
  base64offset: 4,
  base64: 2,
  cidr: 3,
  expand: 3,
  fieldref: 2,
  contains: 1,
  endswith: 1,
};

/** Searching every string of the event for a keyword. */
const KEYWORD_COST = 20;

function itemCost(mods: readonly string[], values: number): number {
  let cost = 1 + Math.log2(Math.max(1, values)) / 4;
  for (const m of mods) cost += MODIFIER_COST[m] ?? 0;
  return cost;
}

/** The parts in the order to test them: cheapest first, as written among equals. */
function cheapestFirst(parts: Search[]): Search[] {
  return parts
    .map((p, k) => ({ p, k }))
    .sort((a, b) => a.p.cost - b.p.cost || a.k - b.k)
    .map(({ p }) => p);
}

const sumCost = (parts: Search[]) => parts.reduce((n, p) => n + p.cost, 0);

/** `parts` joined by `match` (tested cheapest first) and `requires`. */
function joined(
  parts: Search[],
  match: (preds: EventPredicate[]) => EventPredicate,
  requires: (reqs: Requirements[]) => Requirements,
): Search {
  return {
    match: match(cheapestFirst(parts).map((p) => p.match)),
    requires: requires(parts.map((p) => p.requires)),
    cost: sumCost(parts),
  };
}

/** All of `parts`, cheapest first. */
const allOf = (parts: Search[]): Search => joined(parts, and, combineAnd);

/** Any of `parts`, cheapest first. */
const anyOfParts = (parts: Search[]): Search => joined(parts, or, combineOr);

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
    // A number matches the number or its decimal text (exactPredicate, values.ts), so it indexes as that text.
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
  const items: Search[] = [];
  const requires: Requirements = {};
  const entries = Object.entries(map);
  if (entries.length === 0) throw new DetectionError('empty selection', path);
  for (const [key, raw] of entries) {
    const [field, ...mods] = key.split('|');
    const here = [...path, key];
    if (field === '') {
      items.push({
        match: shared(`k\u0000${scope}\u0000${key}\u0000${JSON.stringify(raw)}`, opts, () =>
          compileKeywords(key, raw, mods, scope, here),
        ),
        requires: {},
        cost: KEYWORD_COST,
      });
      continue;
    }
    items.push({
      match: shared(
        `f\u0000${scope}\u0000${opts.every === true}\u0000${key}\u0000${JSON.stringify(raw)}`,
        opts,
        () => compileFieldItem(key, field!, mods, raw, scope, here, opts),
      ),
      requires: {},
      cost: itemCost(mods, Array.isArray(raw) ? raw.length : 1),
    });
    const idx = indexedField(field!, scope);
    if (idx) requires[idx] = intersect(requires[idx], literalSet(raw, mods));
  }
  return { ...allOf(items), requires };
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
    if (keywords.length > 0) {
      parts.push({
        match: compileKeywords(String(path.at(-1)), keywords, [], scope, path),
        requires: {},
        cost: KEYWORD_COST,
      });
    }
    return anyOfParts(parts);
  }
  return {
    match: compileKeywords(String(path.at(-1)), raw, [], scope, path),
    requires: {},
    cost: KEYWORD_COST,
  };
}

function compileCondition(c: Condition, searches: Map<string, Search>): Search {
  switch (c.kind) {
    case 'id':
      return searches.get(c.name)!;
    case 'not': {
      const inner = compileCondition(c.item, searches);
      return { match: (e) => !inner.match(e), requires: {}, cost: inner.cost };
    }
    case 'and':
      return allOf(c.items.map((i) => compileCondition(i, searches)));
    case 'or':
      return anyOfParts(c.items.map((i) => compileCondition(i, searches)));
    case 'of': {
      const parts = c.names.map((n) => searches.get(n)!);
      if (c.min === 'all' || c.min >= parts.length) {
        if (c.min !== 'all' && c.min > parts.length) return { match: () => false, requires: {}, cost: 0 };
        return allOf(parts);
      }
      if (c.min === 1) return anyOfParts(parts);
      const min = c.min;
      const preds = cheapestFirst(parts).map((p) => p.match);
      return {
        match: (e) => {
          let n = 0;
          for (const p of preds) if (p(e) && ++n >= min) return true;
          return false;
        },
        requires: combineOr(parts.map((p) => p.requires)),
        cost: sumCost(parts),
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
  const whole = `d\u0000${scope}\u0000${opts.every === true}\u0000${skip.join(',')}\u0000${JSON.stringify(detection)}`;
  const parts = conds.map((c) => {
    try {
      return compileCondition(parseCondition(c as string, names), searches);
    } catch (err) {
      if (err instanceof ConditionError)
        throw new DetectionError(`condition: ${err.message}`, [...path, 'condition']);
      throw err;
    }
  });
  const match = or(parts.map((p) => p.match));
  return { match: shared(whole, opts, () => match), requires: combineOr(parts.map((p) => p.requires)) };
}
