import { datasetNamed } from '../datasets/index.ts';
import { type EventDataset, NormalizedEvent } from '../schema/event.ts';

/**
 * Field resolution. A Sigma field name is compiled once into an accessor that
 * visits the leaf values it names, so matching needs no per-event allocation.
 *
 * Results are three-valued: the path is MISSING, or PRESENT and no leaf
 * satisfies the predicate, or a leaf MATCHES. The accessor tries its candidate
 * locations in order and the first location where the path exists decides, so a
 * field resolves in one place (the audit event's own path before the ECS one).
 */
export const MISSING = 0;
export const PRESENT = 1;
export const MATCH = 2;
export type Visit = 0 | 1 | 2;

export type LeafPredicate = (value: unknown) => boolean;

/** Which part of the normalized event a rule's field names refer to: a dataset's payload (then ECS), or ECS only. */
export type FieldScope = EventDataset | 'ecs';

export interface FieldAccessor {
  readonly name: string;
  visit(event: NormalizedEvent, pred: LeafPredicate): Visit;
}

/**
 * Fields whose keys are free-form and may contain dots: Kubernetes' string maps
 * (`annotations`, `labels`, selectors, ConfigMap/Secret data, `user.extra`) and
 * Falco's `output_fields`. Every other Kubernetes and Falco field name is an
 * identifier without dots, so below them a path segment is one key.
 */
const FREE_FORM_MAPS = new Set([
  'annotations',
  'labels',
  'matchLabels',
  'nodeSelector',
  'selector',
  'data',
  'stringData',
  'binaryData',
  'extra',
  'output_fields',
]);

/** A dotted path, pre-split, with every run of segments pre-joined for keys that contain dots. */
interface Path {
  readonly n: number;
  /** joined[i][j] = segments i..j-1 joined with '.'. */
  readonly joined: string[][];
  /** dotted[i]: the object at depth i is a free-form map: try dotted keys, longest first. */
  readonly dotted: boolean[];
  /** keys[i]: segment i alone; inherited[i]: it names a property every object inherits (`constructor`, …). */
  readonly keys: string[];
  readonly inherited: boolean[];
}

function compilePath(name: string): Path {
  const segs = name.split('.');
  const n = segs.length;
  const joined: string[][] = [];
  const dotted: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const row: string[] = [];
    for (let j = 0; j <= n; j++) row.push(j > i ? segs.slice(i, j).join('.') : '');
    joined.push(row);
    dotted.push(i > 0 && FREE_FORM_MAPS.has(segs[i - 1]!));
  }
  return { n, joined, dotted, keys: segs, inherited: segs.map((k) => k in Object.prototype) };
}

/** Applies `pred` to a leaf; an array leaf matches when any element does (an empty array is passed whole). */
function visitLeaf(node: unknown, pred: LeafPredicate): Visit {
  if (Array.isArray(node) && node.length > 0) {
    for (let k = 0; k < node.length; k++) if (visitLeaf(node[k], pred) === MATCH) return MATCH;
    return PRESENT;
  }
  return pred(node) ? MATCH : PRESENT;
}

function walkAny(node: unknown, p: Path, i: number, pred: LeafPredicate): Visit {
  // Plain objects are descended in a loop, a key's own-ness checked only where a read cannot tell it.
  while (i < p.n && !p.dotted[i] && node !== null && typeof node === 'object' && !Array.isArray(node)) {
    const obj = node as Record<string, unknown>;
    const key = p.keys[i]!;
    const next = obj[key];
    if ((next === undefined || p.inherited[i]) && !Object.hasOwn(obj, key)) return MISSING;
    node = next;
    i++;
  }
  if (i === p.n) return visitLeaf(node, pred);
  if (node === null || typeof node !== 'object') return MISSING;
  if (Array.isArray(node)) {
    // A path crossing an array matches when any element matches (Elasticsearch semantics).
    let best: Visit = MISSING;
    for (let k = 0; k < node.length; k++) {
      const r = walkAny(node[k], p, i, pred);
      if (r === MATCH) return MATCH;
      if (r > best) best = r;
    }
    return best;
  }
  // Only a free-form map is left here (the loop took plain keys): its keys may contain dots (annotations,
  // Falco's `output_fields`), longest key first.
  const obj = node as Record<string, unknown>;
  const row = p.joined[i]!;
  let best: Visit = MISSING;
  for (let j = p.n; j > i; j--) {
    const key = row[j]!;
    if (!Object.hasOwn(obj, key)) continue;
    const r = walkAny(obj[key], p, j, pred);
    if (r === MATCH) return MATCH;
    if (r > best) best = r;
  }
  return best;
}

/** `visitLeaf` for `arrays: every`: an array leaf matches when every element does (an empty one: nothing fails). */
function visitLeafEvery(node: unknown, pred: LeafPredicate): Visit {
  if (Array.isArray(node)) {
    for (let k = 0; k < node.length; k++) if (visitLeafEvery(node[k], pred) !== MATCH) return PRESENT;
    return MATCH;
  }
  return pred(node) ? MATCH : PRESENT;
}

/**
 * `walk` for `arrays: every` (custom attribute `klaxon: {arrays: every}`): a path crossing an array matches when
 * EVERY element matches, and an element without the path fails it. Allow-lists need this: "every container runs
 * a trusted image", where any-element semantics would let one trusted sidecar exempt a whole pod.
 */
function walkEvery(node: unknown, p: Path, i: number, pred: LeafPredicate): Visit {
  if (i === p.n) return visitLeafEvery(node, pred);
  if (node === null || typeof node !== 'object') return MISSING;
  if (Array.isArray(node)) {
    if (node.length === 0) return MATCH;
    let all = true;
    let seen = false;
    for (let k = 0; k < node.length; k++) {
      const r = walkEvery(node[k], p, i, pred);
      if (r !== MISSING) seen = true;
      if (r !== MATCH) all = false;
    }
    return all ? MATCH : seen ? PRESENT : MISSING;
  }
  const obj = node as Record<string, unknown>;
  const row = p.joined[i]!;
  if (!p.dotted[i]) {
    const key = row[i + 1]!;
    return Object.hasOwn(obj, key) ? walkEvery(obj[key], p, i + 1, pred) : MISSING;
  }
  let best: Visit = MISSING;
  for (let j = p.n; j > i; j--) {
    const key = row[j]!;
    if (!Object.hasOwn(obj, key)) continue;
    const r = walkEvery(obj[key], p, j, pred);
    if (r === MATCH) return MATCH;
    if (r > best) best = r;
  }
  return best;
}

/** Finds `key` at any depth below `node` (for SigmaHQ's pseudo-fields such as `hostPath` and `capabilities`). */
function deepKey(node: unknown, key: string, pred: LeafPredicate, depth: number): Visit {
  if (node === null || typeof node !== 'object' || depth > 16) return MISSING;
  let best: Visit = MISSING;
  if (Array.isArray(node)) {
    for (let k = 0; k < node.length; k++) {
      const r = deepKey(node[k], key, pred, depth + 1);
      if (r === MATCH) return MATCH;
      if (r > best) best = r;
    }
    return best;
  }
  const obj = node as Record<string, unknown>;
  if (Object.hasOwn(obj, key)) {
    const r = visitLeaf(obj[key], pred);
    if (r === MATCH) return MATCH;
    best = r;
  }
  for (const k in obj) {
    const r = deepKey(obj[k], key, pred, depth + 1);
    if (r === MATCH) return MATCH;
    if (r > best) best = r;
  }
  return best;
}

/** Top-level fields of the normalized event (ECS and the datasets' sections), from its contract. */
const ECS_TOP_LEVEL: ReadonlySet<string> = new Set([...Object.keys(NormalizedEvent.shape), 'message']);

/**
 * ECS fields that Klaxon derives and rules name by their ECS path although a payload shares the top-level
 * name (`user.username` is the audit event's, `user.name` Klaxon's; a flow's `source` is its endpoint,
 * `source.ip` Klaxon's).
 */
const ECS_DERIVED = new Set([
  'user.name',
  'user.roles',
  'source.ip',
  'source.port',
  'destination.ip',
  'destination.port',
]);

/**
 * A name that only Klaxon's normalized event can answer: an ECS namespace the payload has no field of its own
 * in (`orchestrator.cluster.name`, `event.dataset`, `klaxon.*`, `@timestamp`), or an ECS field Klaxon derives.
 * The payload is never asked for these, so a sender cannot claim another cluster, dataset, time or id by
 * writing the ECS key into its own event.
 */
function klaxonOwned(name: string, payloadTopLevel: ReadonlySet<string>): boolean {
  const top = name.split('.')[0]!;
  if (!ECS_TOP_LEVEL.has(top)) return false;
  if (!payloadTopLevel.has(top)) return true;
  return ECS_DERIVED.has(name);
}

type Candidate = (event: NormalizedEvent, pred: LeafPredicate) => Visit;

/**
 * Compiles a Sigma field name for rules of a dataset (`scope`, its `event.dataset`), or of the normalized
 * event alone (`ecs`: filters without a logsource):
 * - a name only Klaxon can answer (`klaxonOwned`) resolves in the normalized event alone;
 * - else the dataset's short name (pySigma's `resource` for audit), then the name as a path of the dataset's
 *   payload (the audit event, the Falco alert with its dotted `output_fields` keys, the flow), then ECS;
 * - an unqualified name that is no payload field, where the dataset has a deep root (SigmaHQ's `hostPath`,
 *   `capabilities` in audit rules), is looked up as a key at any depth below it.
 */
export function compileField(name: string, scope: FieldScope, every = false): FieldAccessor {
  const candidates: Candidate[] = [];
  const ecs = compilePath(name);
  const walk = every ? walkEvery : walkAny;
  const dataset = scope === 'ecs' ? undefined : datasetNamed(scope);
  const fields = dataset?.fields;
  if (!fields || klaxonOwned(name, fields.topLevel)) {
    candidates.push((e, pred) => walk(e, ecs, 0, pred));
  } else {
    const { root, deepRoot } = fields;
    const short = fields.shortNames?.[name];
    if (short) {
      const p = compilePath(short);
      candidates.push((e, pred) => walk(root(e), p, 0, pred));
    }
    const p = compilePath(name);
    candidates.push((e, pred) => walk(root(e), p, 0, pred));
    const top = name.split('.')[0]!;
    if (ECS_TOP_LEVEL.has(top)) candidates.push((e, pred) => walk(e, ecs, 0, pred));
    else if (deepRoot && !fields.topLevel.has(top) && !short && !name.includes('.')) {
      candidates.push((e, pred) => deepKey(deepRoot(e), name, pred, 0));
    }
  }
  if (candidates.length === 1) {
    const only = candidates[0]!;
    return { name, visit: only };
  }
  return {
    name,
    visit(event, pred) {
      for (let k = 0; k < candidates.length; k++) {
        const r = candidates[k]!(event, pred);
        if (r !== MISSING) return r;
      }
      return MISSING;
    },
  };
}

/** What `firstValue` found: one slot, no closure per call (visits are synchronous and never nested). */
let found: string | undefined;
const takeFirst: LeafPredicate = (v) => {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
    found = String(v);
    return true;
  }
  return false;
};

/** The first scalar value of a field as a string (group-by values, value_count values), or undefined. */
export function firstValue(accessor: FieldAccessor, event: NormalizedEvent): string | undefined {
  found = undefined;
  accessor.visit(event, takeFirst);
  const value = found;
  found = undefined;
  return value;
}

/** Calls `pred` on every string leaf under `node` (keyword search); true when one matches. */
export function anyString(node: unknown, pred: (s: string) => boolean, depth = 0): boolean {
  if (typeof node === 'string') return pred(node);
  if (node === null || typeof node !== 'object' || depth > 32) return false;
  if (Array.isArray(node)) {
    for (let k = 0; k < node.length; k++) if (anyString(node[k], pred, depth + 1)) return true;
    return false;
  }
  const obj = node as Record<string, unknown>;
  for (const k in obj) if (anyString(obj[k], pred, depth + 1)) return true;
  return false;
}
