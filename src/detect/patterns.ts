/**
 * Sigma string values: wildcards `*` and `?`, backslash escaping, case-insensitive
 * by default. Compiled once into a matcher that allocates nothing for ASCII input
 * and runs in O(n·m) at worst (no backtracking blow-up, whatever the pattern).
 */

const STAR = -1;
const ANY = -2;

/** Case folding per UTF-16 unit; ASCII without allocation. */
function fold(c: number): number {
  if (c < 128) return c >= 65 && c <= 90 ? c + 32 : c;
  const lower = String.fromCharCode(c).toLowerCase();
  return lower.length === 1 ? lower.charCodeAt(0) : c;
}

/** Parses a Sigma string into code units, STAR and ANY, per the spec's escaping rules. */
export function parseWildcards(value: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 92 /* \ */) {
      const next = value.charCodeAt(i + 1);
      if (next === 42 || next === 63 || next === 92) {
        out.push(next);
        i++;
        continue;
      }
      out.push(c);
    } else if (c === 42) out.push(STAR);
    else if (c === 63) out.push(ANY);
    else out.push(c);
  }
  return out;
}

/** Escapes a plain string so it matches literally. */
export function escapeWildcards(value: string): string {
  return value.replace(/[\\*?]/g, (m) => `\\${m}`);
}

export type StringMatcher = (s: string) => boolean;

function literal(codes: number[], from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(codes[i]!);
  return s;
}

function eqAt(s: string, at: number, lit: number[], cased: boolean): boolean {
  for (let k = 0; k < lit.length; k++) {
    const a = s.charCodeAt(at + k);
    const b = lit[k]!;
    if (b === ANY) continue;
    if (a !== b && (cased || fold(a) !== b)) return false;
  }
  return true;
}

function indexOfFolded(s: string, lit: number[], from: number, cased: boolean): number {
  const last = s.length - lit.length;
  for (let i = from; i <= last; i++) if (eqAt(s, i, lit, cased)) return i;
  return -1;
}

/** Glob matching with a single backtrack point per star: O(n·m) worst case. */
function glob(s: string, p: number[], cased: boolean): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = pi < p.length ? p[pi]! : 0;
    if (pi < p.length && pc !== STAR) {
      const c = s.charCodeAt(si);
      if (pc === ANY || c === pc || (!cased && fold(c) === pc)) {
        si++;
        pi++;
        continue;
      }
    } else if (pi < p.length && pc === STAR) {
      starP = pi++;
      starS = si;
      continue;
    }
    if (starP < 0) return false;
    pi = starP + 1;
    si = ++starS;
  }
  while (pi < p.length && p[pi] === STAR) pi++;
  return pi === p.length;
}

/** Compiles a Sigma string value (wildcards already part of it) into a matcher. */
export function compileString(value: string, cased: boolean): StringMatcher {
  const raw = parseWildcards(value);
  const p = cased ? raw : raw.map((c) => (c >= 0 ? fold(c) : c));
  const stars = p.filter((c) => c === STAR).length;
  const hasAny = p.includes(ANY);
  if (stars === 0 && !hasAny) {
    const lit = literal(p, 0, p.length);
    if (cased) return (s) => s === lit;
    return (s) => s.length === p.length && eqAt(s, 0, p, false);
  }
  const starAt = (i: number) => p[i] === STAR;
  if (stars === 1 && starAt(p.length - 1)) {
    const lit = p.slice(0, -1);
    return (s) => s.length >= lit.length && eqAt(s, 0, lit, cased);
  }
  if (stars === 1 && starAt(0)) {
    const lit = p.slice(1);
    return (s) => s.length >= lit.length && eqAt(s, s.length - lit.length, lit, cased);
  }
  if (stars === 2 && starAt(0) && starAt(p.length - 1) && p.length >= 2) {
    const lit = p.slice(1, -1);
    if (cased && !hasAny) {
      const str = literal(lit, 0, lit.length);
      return (s) => s.includes(str);
    }
    return (s) => indexOfFolded(s, lit, 0, cased) >= 0;
  }
  return (s) => glob(s, p, cased);
}
