import { BlockList, isIP } from 'node:net';
import { RE2JS } from 're2js';
import type { LeafPredicate } from './fields.ts';
import { compileString, type StringMatcher } from './patterns.ts';

/**
 * Leaf predicates for the values of a detection: each compiles one rule value
 * once, at load, into a test of one event value. They throw an `ItemError`
 * (the reason only; the caller knows the rule and the field) on a bad value.
 */
export class ItemError extends Error {}

export function leafString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function leafNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** SigmaHQ's `field: '*'` (hostPath, capabilities): present and not empty, whatever the type. */
export function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

export function anyOf(preds: LeafPredicate[]): LeafPredicate {
  if (preds.length === 1) return preds[0]!;
  return (v) => {
    for (let k = 0; k < preds.length; k++) if (preds[k]!(v)) return true;
    return false;
  };
}

/** pySigma's base64offset: the three encodings of a value at byte offsets 0, 1 and 2. */
export function base64Offsets(value: string): string[] {
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

/** A regular expression (re2js: linear time whatever the pattern) with RE2JS flag bits. */
export function regexPredicate(value: unknown, flags: number): LeafPredicate {
  if (typeof value !== 'string') throw new ItemError('"re" needs a string value');
  let re: RE2JS;
  try {
    re = RE2JS.compile(value, flags);
  } catch (err) {
    throw new ItemError(`bad regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
  }
  return (v) => {
    const s = leafString(v);
    return s !== undefined && re.test(s);
  };
}

/** An IPv4 or IPv6 range; a bare address is a range of one. */
export function cidrPredicate(value: unknown): LeafPredicate {
  if (typeof value !== 'string') throw new ItemError('"cidr" needs a string value');
  const [net, bits] = value.split('/');
  const family = isIP(net ?? '');
  const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
    throw new ItemError(`bad CIDR range "${value}"`);
  const list = new BlockList();
  list.addSubnet(net!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  return (v) => {
    if (typeof v !== 'string') return false;
    const f = isIP(v);
    return f !== 0 && list.check(v, f === 6 ? 'ipv6' : 'ipv4');
  };
}

/** A numeric comparison of the event's value (a number, or decimal text) with the rule's. */
export function comparePredicate(
  name: string,
  cmp: (x: number, n: number) => boolean,
): (value: unknown) => LeafPredicate {
  return (value) => {
    const n = leafNumber(value);
    if (n === undefined) throw new ItemError(`"${name}" needs a number`);
    return (v) => {
      const x = leafNumber(v);
      return x !== undefined && cmp(x, n);
    };
  };
}

/** A Sigma string (wildcards already placed) matched against the event value's text. */
export function stringPredicate(pattern: string, cased: boolean): LeafPredicate {
  const one: StringMatcher = compileString(pattern, cased);
  return (v) => {
    const s = leafString(v);
    return s !== undefined && one(s);
  };
}

/** A number matches the number and its decimal text; a boolean, the boolean and its text in any case. */
export function exactPredicate(value: number | boolean): LeafPredicate {
  const text = String(value);
  if (typeof value === 'boolean')
    return (v) => v === value || (typeof v === 'string' && v.toLowerCase() === text);
  return (v) => v === value || v === text;
}
