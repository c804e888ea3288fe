import { RE2JS } from 're2js';
import type { NormalizedEvent } from '../schema/event.ts';
import type { EventPredicate } from './detection.ts';
import { expandPredicate } from './expand.ts';
import {
  compileField,
  type FieldAccessor,
  type FieldScope,
  type LeafPredicate,
  MATCH,
  MISSING,
  PRESENT,
} from './fields.ts';
import { escapeWildcards } from './patterns.ts';
import type { PlaceholderStore } from './placeholders.ts';
import {
  base64Offsets,
  cidrPredicate,
  comparePredicate,
  exactPredicate,
  ItemError,
  leafString,
  nonEmpty,
  regexPredicate,
  stringPredicate,
} from './values.ts';

/**
 * The modifier registry, modelled on pySigma: a field item's modifiers are
 * applied in the order written, each to what the previous ones made of the
 * value, and a chain that does not make sense is refused at load instead of
 * silently doing less than it says. The grammar (src/detect/README.md#modifiers):
 *
 *   [transformation] [contains|startswith|endswith]        → a Sigma string (the default)
 *   re [i] [m] [s]  |  cidr  |  gt|gte|lt|lte  |  exists  |  fieldref
 *
 * plus the companions `all`, `neq` and `cased` anywhere in the chain, where the
 * value type accepts them (TYPES). Transformations (`base64`, `base64offset`,
 * `expand`) change the value written; the type modifiers apply to the value as
 * written only (`cidr` also to an expanded placeholder).
 */

/** What a field item's value is at a point of its chain (pySigma's value types). */
type ValueState =
  | 'written'
  | 'encoded'
  | 'expanded'
  | 'placed'
  | 'regex'
  | 'cidr'
  | 'number'
  | 'exists'
  | 'fieldref';

/** The value type a chain ends with: it decides how values compare, and which companions make sense. */
type ValueType = 'string' | 'regex' | 'cidr' | 'number' | 'exists' | 'fieldref';

const TYPE_OF: Record<ValueState, ValueType> = {
  written: 'string',
  encoded: 'string',
  expanded: 'string',
  placed: 'string',
  regex: 'regex',
  cidr: 'cidr',
  number: 'number',
  exists: 'exists',
  fieldref: 'fieldref',
};

const STATE_TEXT: Record<ValueState, string> = {
  written: 'the value as written',
  encoded: 'an encoded string',
  expanded: 'a %placeholder% value',
  placed: 'a contains/startswith/endswith pattern',
  regex: 'a regular expression',
  cidr: 'a CIDR range',
  number: 'a numeric comparison',
  exists: 'an existence test',
  fieldref: 'a field reference',
};

type Companion = 'all' | 'neq' | 'cased';

interface TypeRules {
  /** The companions that mean something with this type. */
  companions: readonly Companion[];
  /** Why the others do not. */
  refuses: string;
  /** Usable in keyword lists (searched in every string of the event, no field). */
  keywords: boolean;
}

const TYPES: Record<ValueType, TypeRules> = {
  string: { companions: ['all', 'neq', 'cased'], refuses: '', keywords: true },
  regex: {
    companions: ['all', 'neq'],
    refuses: 'a regular expression is case-sensitive already (re|i ignores case)',
    keywords: true,
  },
  cidr: { companions: ['all', 'neq'], refuses: 'addresses have no case', keywords: true },
  number: { companions: ['all', 'neq'], refuses: 'numbers have no case', keywords: true },
  exists: { companions: [], refuses: 'it tests only whether the field is there', keywords: false },
  fieldref: {
    companions: ['all', 'neq'],
    refuses: 'a field reference compares the two values exactly',
    keywords: false,
  },
};

/** What compiling a value may use beyond the rule: the placeholders' values (`expand`). */
export interface ModifierEnv {
  placeholders?: PlaceholderStore;
}

/** How a transformation is used: the environment, and the whole chain it is part of. */
interface TransformUse {
  env: ModifierEnv;
  chain: readonly string[];
}

/**
 * One value through a transformation: `next` compiles each string the value turns into (the rest of the
 * chain), so a transformation may expand one value into several, or follow values that change.
 */
type Transform = (value: unknown, next: (s: string) => LeafPredicate, use: TransformUse) => LeafPredicate;

/** A whole field item, for the type modifiers that test the field rather than each of its values. */
export interface ItemInput {
  acc: FieldAccessor;
  values: readonly unknown[];
  scope: FieldScope;
  all: boolean;
  neq: boolean;
}

type ModifierDef =
  | {
      role: 'transform';
      after: readonly ValueState[];
      to: 'encoded' | 'expanded';
      apply: Transform;
      /** The only modifiers it combines with, in any position, and why. */
      combines?: { with: readonly string[]; why: string };
      /** Needs a field (refused in keyword lists). */
      field?: true;
    }
  | { role: 'place'; after: readonly ValueState[]; to: 'placed'; apply: (s: string) => string }
  | {
      role: 'type';
      after: readonly ValueState[];
      to: ValueState;
      /** Compiles one value; `flags` are the RE2JS flags the chain's flag modifiers set. */
      leaf?: (flags: number) => (value: unknown) => LeafPredicate;
      item?: (input: ItemInput) => EventPredicate;
    }
  | { role: 'flag'; after: readonly ValueState[]; bit: number }
  | { role: 'companion' };

const ALWAYS: LeafPredicate = () => true;
const AS_WRITTEN = ['written'] as const;
const STRINGS = ['written', 'encoded', 'expanded'] as const;
const PLACEMENTS = new Set(['contains', 'startswith', 'endswith']);

function textOf(name: string, value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (typeof value === 'boolean') throw new ItemError(`"${name}" needs a string or number value`);
  throw new ItemError(`unsupported value ${JSON.stringify(value)}`);
}

function base64Each(value: unknown, next: (s: string) => LeafPredicate): LeafPredicate {
  return next(escapeWildcards(Buffer.from(textOf('base64', value)).toString('base64')));
}

function base64OffsetEach(value: unknown, next: (s: string) => LeafPredicate): LeafPredicate {
  const preds = base64Offsets(textOf('base64offset', value)).map((s) => next(escapeWildcards(s)));
  return (v) => {
    for (let k = 0; k < preds.length; k++) if (preds[k]!(v)) return true;
    return false;
  };
}

/** Sigma's `expand`: `%name%` stands for the live values of a placeholder (expand.ts). */
function expandEach(value: unknown, next: (s: string) => LeafPredicate, use: TransformUse): LeafPredicate {
  const store = use.env.placeholders;
  if (!store) throw new ItemError('"expand" needs placeholders, and none are configured');
  try {
    return expandPredicate(value, store, {
      cidr: use.chain.includes('cidr'),
      plain: !use.chain.some((m) => PLACEMENTS.has(m) || m === 'cased'),
      compile: next,
    });
  } catch (err) {
    if (err instanceof ItemError) throw err;
    throw new ItemError((err as Error).message);
  }
}

function existsItem({ acc, values }: ItemInput): EventPredicate {
  if (values.length !== 1 || typeof values[0] !== 'boolean')
    throw new ItemError('"exists" needs true or false');
  const want = values[0];
  return (e) => (acc.visit(e, ALWAYS) !== MISSING) === want;
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const sa = leafString(a);
  const sb = leafString(b);
  return sa !== undefined && sa === sb;
}

function fieldrefItem({ acc, values, scope, all, neq }: ItemInput): EventPredicate {
  const refs = values.map((v) => {
    if (typeof v !== 'string') throw new ItemError('"fieldref" needs field names');
    return compileField(v, scope);
  });
  const one = (e: NormalizedEvent, ref: FieldAccessor) =>
    acc.visit(e, (v) => ref.visit(e, (w) => looseEqual(v, w)) === MATCH);
  if (neq) return (e) => refs.every((r) => one(e, r) === PRESENT);
  if (all) return (e) => refs.every((r) => one(e, r) === MATCH);
  return (e) => refs.some((r) => one(e, r) === MATCH);
}

const compare = (name: string, cmp: (x: number, n: number) => boolean) => ({
  role: 'type' as const,
  after: AS_WRITTEN,
  to: 'number' as const,
  leaf: () => comparePredicate(name, cmp),
});

/**
 * Every modifier Klaxon knows. Adding one is one entry here (and a row in the README's table):
 * a transformation says which values it follows and how it turns one value into the strings the
 * rest of the chain compiles (`expand` follows values that change), and its state goes in the
 * `after` of the modifiers allowed behind it; a type modifier says how it compiles a value (or a
 * whole field item), and its type the companions it accepts (TYPES).
 */
const MODIFIERS: Record<string, ModifierDef> = {
  base64: { role: 'transform', after: AS_WRITTEN, to: 'encoded', apply: base64Each },
  base64offset: { role: 'transform', after: AS_WRITTEN, to: 'encoded', apply: base64OffsetEach },
  expand: {
    role: 'transform',
    after: AS_WRITTEN,
    to: 'expanded',
    apply: expandEach,
    combines: {
      with: ['cidr', 'contains', 'startswith', 'endswith', 'cased', 'neq'],
      why: 'a placeholder stands for a list of plain strings or networks',
    },
    field: true,
  },
  contains: { role: 'place', after: STRINGS, to: 'placed', apply: (s) => `*${s}*` },
  startswith: { role: 'place', after: STRINGS, to: 'placed', apply: (s) => `${s}*` },
  endswith: { role: 'place', after: STRINGS, to: 'placed', apply: (s) => `*${s}` },
  re: {
    role: 'type',
    after: AS_WRITTEN,
    to: 'regex',
    leaf: (flags) => (value) => regexPredicate(value, flags),
  },
  i: { role: 'flag', after: ['regex'], bit: RE2JS.CASE_INSENSITIVE },
  m: { role: 'flag', after: ['regex'], bit: RE2JS.MULTILINE },
  s: { role: 'flag', after: ['regex'], bit: RE2JS.DOTALL },
  cidr: { role: 'type', after: ['written', 'expanded'], to: 'cidr', leaf: () => cidrPredicate },
  gt: compare('gt', (x, n) => x > n),
  gte: compare('gte', (x, n) => x >= n),
  lt: compare('lt', (x, n) => x < n),
  lte: compare('lte', (x, n) => x <= n),
  exists: { role: 'type', after: AS_WRITTEN, to: 'exists', item: existsItem },
  fieldref: { role: 'type', after: AS_WRITTEN, to: 'fieldref', item: fieldrefItem },
  all: { role: 'companion' },
  neq: { role: 'companion' },
  cased: { role: 'companion' },
};

/** A field item's (or keyword list's) modifiers, checked and ready to compile its values. */
export interface Chain {
  /** The modifiers as written. */
  readonly names: readonly string[];
  /** Every value must match (`all`). */
  readonly all: boolean;
  /** The field is present and no value matches (`neq`). */
  readonly neq: boolean;
  /** Compiles one value of the item; absent for the types that test the whole item. */
  readonly leaf?: (value: unknown, env: ModifierEnv) => LeafPredicate;
  readonly item?: (input: ItemInput) => EventPredicate;
}

function states(list: readonly ValueState[]): string {
  const texts = list.map((s) => STATE_TEXT[s]);
  return texts.length < 2 ? texts.join('') : `${texts.slice(0, -1).join(', ')} or ${texts.at(-1)}`;
}

function misplaced(
  name: string,
  def: Exclude<ModifierDef, { role: 'companion' }>,
  state: ValueState,
  by: string,
): string {
  const head = `"${name}" cannot follow "${by}"`;
  if (def.role === 'flag') return `"${name}" is a flag of "re" and must follow it`;
  if (def.role === 'place' && state === 'placed')
    return `${head}: at most one of contains, startswith, endswith`;
  if (def.role === 'type' && def.to === 'number' && state === 'number')
    return `${head}: at most one of gt, gte, lt, lte`;
  return `${head}: "${name}" applies to ${states(def.after)}, and after "${by}" the value is ${STATE_TEXT[state]}`;
}

/** The default value type: a Sigma string, placed as written. */
function stringLeaf(
  place: ((s: string) => string) | undefined,
  placedBy: string | undefined,
  cased: boolean,
  plain: boolean,
): (value: unknown) => LeafPredicate {
  return (value) => {
    if (typeof value === 'boolean' || typeof value === 'number') {
      if (!place) return exactPredicate(value);
      if (typeof value === 'boolean') throw new ItemError(`"${placedBy}" needs a string or number value`);
    }
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new ItemError(`unsupported value ${JSON.stringify(value)}`);
    if (plain && value === '*') return nonEmpty;
    return stringPredicate(place ? place(String(value)) : String(value), cased);
  };
}

/** Each value through the transformations in the order written, then the rest of the chain. */
function transformed(
  transforms: readonly Transform[],
  chain: readonly string[],
  terminal: (value: unknown) => LeafPredicate,
): (value: unknown, env: ModifierEnv) => LeafPredicate {
  if (transforms.length === 0) return (value) => terminal(value);
  return (value, env) => {
    let compile: (v: unknown) => LeafPredicate = terminal;
    for (let k = transforms.length - 1; k >= 0; k--) {
      const apply = transforms[k]!;
      const next = compile;
      compile = (v) => apply(v, next, { env, chain });
    }
    return compile(value);
  };
}

/**
 * Checks a field item's modifiers (or a keyword list's: `context: 'keyword'`) against the grammar and
 * returns how to compile its values. Throws an ItemError with the reason.
 */
export function parseChain(names: readonly string[], context: 'field' | 'keyword'): Chain {
  const defs = names.map((name, k) => {
    const def = Object.hasOwn(MODIFIERS, name) ? MODIFIERS[name]! : undefined;
    if (!def) throw new ItemError(`unsupported modifier "${name}"`);
    if (names.indexOf(name) !== k) throw new ItemError(`modifier "${name}" is given twice`);
    return def;
  });
  defs.forEach((def, k) => {
    if (def.role !== 'transform') return;
    const other = def.combines && names.find((n) => n !== names[k] && !def.combines!.with.includes(n));
    if (other) throw new ItemError(`"${names[k]}" does not combine with "${other}": ${def.combines!.why}`);
    if (def.field && context === 'keyword')
      throw new ItemError(`"${names[k]}" needs a field: keywords are searched in every string of the event`);
  });
  let state: ValueState = 'written';
  let by = '';
  const transforms: Transform[] = [];
  let place: ((s: string) => string) | undefined;
  let placedBy: string | undefined;
  let typeDef: Extract<ModifierDef, { role: 'type' }> | undefined;
  let flags = 0;
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    const def = defs[k]!;
    if (def.role === 'companion') continue;
    if (!def.after.includes(state)) throw new ItemError(misplaced(name, def, state, by));
    if (def.role === 'flag') {
      flags |= def.bit;
      continue;
    }
    if (def.role === 'transform') transforms.push(def.apply);
    else if (def.role === 'place') {
      place = def.apply;
      placedBy = name;
    } else typeDef = def;
    state = def.to;
    by = name;
  }
  const seen = new Set(names);
  const type = TYPE_OF[state];
  const rules = TYPES[type];
  for (const c of ['all', 'neq', 'cased'] as const) {
    if (seen.has(c) && !rules.companions.includes(c))
      throw new ItemError(`"${c}" does not combine with "${by}": ${rules.refuses}`);
  }
  if (seen.has('all') && seen.has('neq'))
    throw new ItemError(
      '"all" and "neq" do not combine: "neq" already means that none of the values matches',
    );
  if (context === 'keyword') {
    if (!rules.keywords)
      throw new ItemError(`"${by}" needs a field: keywords are searched in every string of the event`);
    if (seen.has('neq'))
      throw new ItemError('"neq" needs a field: negate a keyword search with "not" in the condition');
    // A keyword is searched for anywhere in any string of the event, unless a modifier says otherwise.
    if (type === 'string' && !place) {
      place = (s) => `*${s}*`;
      placedBy = 'contains';
    }
  }
  const all = seen.has('all');
  const neq = seen.has('neq');
  if (typeDef?.item) return { names, all, neq, item: typeDef.item };
  const terminal = typeDef?.leaf
    ? typeDef.leaf(flags)
    : stringLeaf(place, placedBy, seen.has('cased'), names.length === 0 && context === 'field');
  return { names, all, neq, leaf: transformed(transforms, names, terminal) };
}
