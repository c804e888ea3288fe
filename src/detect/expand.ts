import type { LeafPredicate } from './fields.ts';
import type { Placeholder, PlaceholderSnapshot, PlaceholderStore } from './placeholders.ts';

/**
 * Sigma's `expand` modifier: `%name%` in a value stands for the values of the placeholder `name`
 * (`\%` is a plain percent sign). Alone in a value, a placeholder matches when the field equals any of its
 * values (a hash lookup; with `cidr`, an address inside any of its networks); mixed with text, every
 * combination is compiled as a Sigma string. Either way the predicate follows reloads of the placeholder.
 */

/** Largest number of strings a value mixing text and placeholders may expand to. */
const MAX_COMBINATIONS = 100_000;

export interface ExpandOptions {
  /** `cidr` was given too: the placeholder's values are addresses and networks. */
  cidr: boolean;
  /** No other modifier changes how a value compares, so plain values may go in a hash set. */
  plain: boolean;
  /** Compiles one expanded Sigma string with the field's other modifiers. */
  compile: (value: string) => LeafPredicate;
}

type Part = { text: string } | { placeholder: Placeholder };

const NAME = /^[A-Za-z0-9_.-]+$/;

function parseParts(value: string, store: PlaceholderStore): Part[] {
  const parts: Part[] = [];
  let text = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && value[i + 1] === '%') {
      text += '%';
      i++;
      continue;
    }
    if (c === '%') {
      const end = value.indexOf('%', i + 1);
      const name = end > i ? value.slice(i + 1, end) : '';
      if (NAME.test(name)) {
        const placeholder = store.get(name);
        if (!placeholder)
          throw new Error(
            `placeholder %${name}% is not defined (known: ${store.names().join(', ') || 'none'}; define it in detect.placeholders)`,
          );
        if (text !== '') parts.push({ text });
        text = '';
        parts.push({ placeholder });
        i = end;
        continue;
      }
    }
    text += c;
  }
  if (text !== '') parts.push({ text });
  if (!parts.some((p) => 'placeholder' in p))
    throw new Error(`"expand" needs a %placeholder% in ${JSON.stringify(value)}`);
  return parts;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

interface PlainLookup {
  exact: Set<string>;
  patterns: LeafPredicate[];
}

const WILDCARD = /[*?\\]/;

function anyOf(preds: LeafPredicate[]): LeafPredicate {
  return (v) => {
    for (let k = 0; k < preds.length; k++) if (preds[k]!(v)) return true;
    return false;
  };
}

/** The leaf predicate of one `expand` value. Throws an Error (with the reason) on a bad value. */
export function expandPredicate(value: unknown, store: PlaceholderStore, opts: ExpandOptions): LeafPredicate {
  if (typeof value !== 'string') throw new Error('"expand" needs a string value');
  const parts = parseParts(value, store);
  const only = parts.length === 1 && 'placeholder' in parts[0]! ? parts[0].placeholder : undefined;

  if (opts.cidr) {
    if (!only) throw new Error('"expand" with "cidr" needs a value that is one %placeholder%');
    let snap: PlaceholderSnapshot = only.snapshot;
    let set = snap.ipSet();
    return (v) => {
      if (typeof v !== 'string') return false;
      if (only.snapshot !== snap) {
        snap = only.snapshot;
        set = snap.ipSet();
      }
      return set.has(v);
    };
  }

  if (only && opts.plain) {
    // Shared by every rule that matches the same placeholder plainly: built once per snapshot.
    const build = (values: readonly string[]): PlainLookup => {
      const exact = new Set<string>();
      const patterns: LeafPredicate[] = [];
      for (const s of values) {
        if (WILDCARD.test(s)) patterns.push(opts.compile(s));
        else exact.add(s.toLowerCase());
      }
      return { exact, patterns };
    };
    let snap = only.snapshot;
    let lookup = snap.derived('plain', build);
    return (v) => {
      const s = asText(v);
      if (s === undefined) return false;
      if (only.snapshot !== snap) {
        snap = only.snapshot;
        lookup = snap.derived('plain', build);
      }
      if (lookup.exact.has(s.toLowerCase())) return true;
      for (let k = 0; k < lookup.patterns.length; k++) if (lookup.patterns[k]!(v)) return true;
      return false;
    };
  }

  const placeholders = parts.flatMap((p) => ('placeholder' in p ? [p.placeholder] : []));
  const compileAll = (): LeafPredicate => {
    let combos = [''];
    for (const p of parts) {
      const values = 'text' in p ? [p.text] : p.placeholder.snapshot.values;
      if (combos.length * values.length > MAX_COMBINATIONS)
        throw new Error(`${JSON.stringify(value)} expands to more than ${MAX_COMBINATIONS} values`);
      combos = combos.flatMap((c) => values.map((x) => c + x));
    }
    const preds = combos.map((c) => opts.compile(c));
    return preds.length === 0 ? () => false : anyOf(preds);
  };
  let snaps = placeholders.map((p) => p.snapshot);
  let pred = compileAll();
  return (v) => {
    for (let k = 0; k < placeholders.length; k++) {
      if (placeholders[k]!.snapshot !== snaps[k]) {
        snaps = placeholders.map((p) => p.snapshot);
        try {
          pred = compileAll();
        } catch {
          // A reload that expands too far keeps the last good expansion; the loader reports the size.
        }
        break;
      }
    }
    return pred(v);
  };
}
