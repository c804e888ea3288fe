/**
 * Named value lists for Sigma's `expand` modifier (`field|expand: '%name%'`), such as trusted networks or an
 * indicator list of addresses. A list is live: rules compile against a `Placeholder` handle once, and a reload
 * replaces the handle's snapshot, so the next event sees the new values without recompiling any rule.
 *
 * Address lists are matched in O(1) per event whatever their size: exact addresses and networks are bucketed by
 * prefix length (a hash set per length), so a lookup masks the address once per distinct prefix length present
 * (at most 33 for IPv4, 129 for IPv6), never once per entry.
 */

/** The private, loopback, link-local and shared (CGNAT) ranges: the default `trusted_networks`. */
export const PRIVATE_NETWORKS: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

/** Placeholders every rule set knows, with their defaults (settings may replace them). */
export const BUILTIN_PLACEHOLDERS: Readonly<Record<string, readonly string[]>> = {
  trusted_networks: PRIVATE_NETWORKS,
  indicator_ips: [],
};

/** Largest number of values one placeholder may hold (files beyond it are cut, with an error). */
export const MAX_PLACEHOLDER_VALUES = 1_000_000;

function parseIPv4(s: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + part;
}

/** The eight 16-bit words of an IPv6 address (embedded IPv4 and a zone id allowed), or undefined. */
function parseIPv6(input: string): number[] | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45 || !s.includes(':')) return undefined;
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (text: string): number[] | undefined => {
    if (text === '') return [];
    const out: number[] = [];
    for (const g of text.split(':')) {
      if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !rest) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const fill = 8 - head.length - rest.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...rest];
}

type Address = { v: 4; n: number } | { v: 6; hex: string };

/** Parses an address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is read as IPv4. */
export function parseAddress(text: string): Address | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { v: 4, n: v4 };
  const w = parseIPv6(text);
  if (!w) return undefined;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff)
    return { v: 4, n: w[6]! * 65536 + w[7]! };
  let hex = '';
  for (const x of w) hex += x.toString(16).padStart(4, '0');
  return { v: 6, hex };
}

function v4Key(n: number, len: number): number {
  return len === 0 ? 0 : Math.floor(n / 2 ** (32 - len));
}

function v6Key(hex: string, len: number): string {
  const nibbles = len >> 2;
  const rest = len & 3;
  if (rest === 0) return hex.slice(0, nibbles);
  const next = Number.parseInt(hex[nibbles]!, 16) >> (4 - rest);
  return `${hex.slice(0, nibbles)}/${next}`;
}

/** A set of IPv4/IPv6 addresses and networks with constant-time membership. */
export class IpSet {
  private readonly v4 = new Map<number, Set<number>>();
  private readonly v6 = new Map<number, Set<string>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];
  /** Entries that were neither an address nor a CIDR network. */
  readonly invalid: string[] = [];
  size = 0;

  constructor(entries: Iterable<string> = []) {
    for (const e of entries) this.add(e);
  }

  /** Adds `a.b.c.d`, `a.b.c.d/len`, an IPv6 address or network; false (and noted) when it is neither. */
  add(entry: string): boolean {
    const text = entry.trim();
    const slash = text.indexOf('/');
    const addr = parseAddress(slash < 0 ? text : text.slice(0, slash));
    const max = addr?.v === 4 ? 32 : 128;
    const bits =
      slash < 0 ? max : /^[0-9]{1,3}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : -1;
    if (!addr || bits < 0 || bits > max) {
      if (this.invalid.length < 100) this.invalid.push(text);
      return false;
    }
    if (addr.v === 4) {
      let set = this.v4.get(bits);
      if (!set) {
        set = new Set();
        this.v4.set(bits, set);
        this.v4Lengths = [...this.v4.keys()].sort((a, b) => a - b);
      }
      set.add(v4Key(addr.n, bits));
    } else {
      let set = this.v6.get(bits);
      if (!set) {
        set = new Set();
        this.v6.set(bits, set);
        this.v6Lengths = [...this.v6.keys()].sort((a, b) => a - b);
      }
      set.add(v6Key(addr.hex, bits));
    }
    this.size++;
    return true;
  }

  /** Recent answers by address text: a cluster's traffic comes from few addresses, parsing each once. */
  private readonly recent = new Map<string, boolean>();

  /** True when `ip` is an address inside one of the set's addresses or networks. */
  has(ip: string): boolean {
    if (this.size === 0) return false;
    const known = this.recent.get(ip);
    if (known !== undefined) return known;
    const found = this.lookup(ip);
    if (this.recent.size >= 4096) this.recent.clear();
    this.recent.set(ip, found);
    return found;
  }

  private lookup(ip: string): boolean {
    const addr = parseAddress(ip);
    if (!addr) return false;
    if (addr.v === 4) {
      for (const len of this.v4Lengths) if (this.v4.get(len)!.has(v4Key(addr.n, len))) return true;
      return false;
    }
    for (const len of this.v6Lengths) if (this.v6.get(len)!.has(v6Key(addr.hex, len))) return true;
    return false;
  }
}

/** One version of a placeholder's values, with the lookup structures built from it on first use. */
export class PlaceholderSnapshot {
  readonly values: readonly string[];
  readonly version: number;
  private readonly memo = new Map<string, unknown>();

  constructor(values: readonly string[], version: number) {
    this.values = values;
    this.version = version;
  }

  /** A structure derived from the values, built once per snapshot and shared by every rule. */
  derived<T>(key: string, build: (values: readonly string[]) => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const built = build(this.values);
    this.memo.set(key, built);
    return built;
  }

  ipSet(): IpSet {
    return this.derived('ipset', (v) => new IpSet(v));
  }
}

/** A named list that rules hold on to; `set` swaps its values for every rule at once. */
export class Placeholder {
  readonly name: string;
  private current: PlaceholderSnapshot;

  constructor(name: string, values: readonly string[]) {
    this.name = name;
    this.current = new PlaceholderSnapshot(values.slice(0, MAX_PLACEHOLDER_VALUES), 0);
  }

  get snapshot(): PlaceholderSnapshot {
    return this.current;
  }

  set(values: readonly string[]): void {
    this.current = new PlaceholderSnapshot(values.slice(0, MAX_PLACEHOLDER_VALUES), this.current.version + 1);
  }
}

/** The placeholders a rule set may use, by name (without the percent signs). */
export class PlaceholderStore {
  private readonly byName = new Map<string, Placeholder>();

  get(name: string): Placeholder | undefined {
    return this.byName.get(name);
  }

  /** Defines a placeholder, or replaces the values of one already defined (rules compiled against it follow). */
  set(name: string, values: readonly string[]): Placeholder {
    const existing = this.byName.get(name);
    if (existing) {
      existing.set(values);
      return existing;
    }
    const p = new Placeholder(name, values);
    this.byName.set(name, p);
    return p;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

/** A store with the built-in placeholders at their defaults. */
export function defaultPlaceholders(): PlaceholderStore {
  const store = new PlaceholderStore();
  for (const [name, values] of Object.entries(BUILTIN_PLACEHOLDERS)) store.set(name, values);
  return store;
}

/**
 * The values of a placeholder file: one per line; blank lines and `#` comments are skipped, and so is anything
 * after the first blank on a line (lists that annotate each entry).
 */
export function parsePlaceholderText(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const hash = raw.indexOf('#');
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === '') continue;
    out.push(line.split(/[\s,;]+/)[0]!);
    if (out.length >= MAX_PLACEHOLDER_VALUES) break;
  }
  return out;
}
