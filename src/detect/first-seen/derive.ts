import { type PlaceholderStore, parseAddress } from '../placeholders.ts';

/**
 * What a first-seen rule remembers of a field's value (`field|derivation`): the part that stays the same
 * while the behaviour does, so a routine change (a kubectl upgrade, a new address from the same network)
 * is not a first.
 */
export interface FirstSeenDerivation {
  readonly name: string;
  /** The remembered form, or undefined when the value has none (an address that is not one). */
  apply(value: string): string | undefined;
}

/** A version-like token: `v1.30.2`, `2.0`, `10_15_7`, `8`. */
const VERSION = /^v?[0-9]+([._-][0-9a-z]+)*$/i;

/**
 * A user agent's family: its first product without the version, and the first item of its first comment
 * without version numbers — `kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350` → `kubectl (darwin/arm64)`,
 * `python-requests/2.31.0` → `python-requests`, `Mozilla/5.0 (Windows NT 10.0; Win64; x64) …` →
 * `mozilla (windows nt)`. Lower case; bounded (a user agent is the sender's to write).
 */
export function userAgentFamily(ua: string): string | undefined {
  const text = ua.trim().slice(0, 512);
  if (text === '') return undefined;
  const product = /^[^\s/()]+/.exec(text)?.[0];
  if (!product) return undefined;
  const open = text.indexOf('(');
  const close = open < 0 ? -1 : text.indexOf(')', open);
  let platform = '';
  if (open >= 0 && close > open) {
    const first = text.slice(open + 1, close).split(';')[0]!;
    platform = first
      .split(/\s+/)
      .filter((t) => t !== '' && !VERSION.test(t))
      .join(' ');
  }
  const family = platform ? `${product} (${platform})` : product;
  return family.toLowerCase().slice(0, 128);
}

/** IPv4 /24 or IPv6 /64 of an address (IPv4-mapped IPv6 counts as IPv4): the network it came from. */
export function addressNetwork(ip: string): string | undefined {
  const a = parseAddress(ip.trim());
  if (!a) return undefined;
  if (a.v === 4) {
    const n = a.n;
    return `${Math.floor(n / 16_777_216)}.${Math.floor(n / 65_536) % 256}.${Math.floor(n / 256) % 256}.0/24`;
  }
  const groups: string[] = [];
  for (let k = 0; k < 16; k += 4) groups.push(Number.parseInt(a.hex.slice(k, k + 4), 16).toString(16));
  return `${groups.join(':')}::/64`;
}

/** Distinct inputs remembered per derivation: a busy cluster has few user agents and networks, an attacker many. */
const MEMO_SIZE = 10_000;

/** Remembers its latest answers: a derivation runs on every event its rule learns from. */
function memoized(apply: (value: string) => string | undefined): (value: string) => string | undefined {
  let memo = new Map<string, string | undefined>();
  return (value) => {
    if (memo.has(value)) return memo.get(value);
    const out = apply(value);
    if (memo.size >= MEMO_SIZE) memo = new Map();
    memo.set(value, out);
    return out;
  };
}

/** The value every address inside `%trusted_networks%` becomes under `network`. */
export const TRUSTED = 'trusted';

/**
 * The derivations, each made once per rule field (with the rule set's placeholders):
 * - `family`: the user agent's family (`userAgentFamily`);
 * - `network`: `trusted` for an address inside the placeholder `%trusted_networks%` (the private ranges by
 *   default: a pod moving to another node's subnet is no new network), else its /24 or /64.
 */
const FACTORIES: Record<string, (placeholders: PlaceholderStore) => FirstSeenDerivation> = {
  family: () => ({ name: 'family', apply: memoized(userAgentFamily) }),
  network(placeholders) {
    const trusted = placeholders.get('trusted_networks');
    const net = memoized(addressNetwork);
    return {
      name: 'network',
      apply: (ip) => (trusted?.snapshot.ipSet().has(ip) ? TRUSTED : net(ip)),
    };
  },
};

export const DERIVATION_NAMES = Object.keys(FACTORIES);

export function isDerivation(name: string): boolean {
  return Object.hasOwn(FACTORIES, name);
}

export function makeDerivation(name: string, placeholders: PlaceholderStore): FirstSeenDerivation {
  return FACTORIES[name]!(placeholders);
}
