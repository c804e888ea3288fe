import type { Signal } from '../../schema/signal.ts';
import type { FirstSeenRule } from '../ruleset.ts';

/** One remembered value from the values of a rule's fields: the value itself, or a JSON array for a combination. */
export function combine(values: readonly string[]): string {
  return values.length === 1 ? values[0]! : JSON.stringify(values);
}

/** A remembered value as people read it: a combination's parts joined by spaces. */
export function displayValue(rule: FirstSeenRule, value: string): string {
  if (rule.fields.length === 1) return value;
  try {
    const parts = JSON.parse(value) as unknown;
    return Array.isArray(parts) ? parts.map(String).join(' ') : value;
  } catch {
    return value;
  }
}

function durationText(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

const quote = (s: string) => `"${s.length > 80 ? `${s.slice(0, 77)}...` : s}"`;

/**
 * `first userAgent|family "kubectl (darwin/arm64)" in 30d for user.username=system:serviceaccount:shop:cart
 * (known: "cart (linux/amd64)") in cluster prod — <title>`.
 */
export function firstSeenMessage(
  rule: FirstSeenRule,
  signal: Signal,
  value: string,
  known: readonly string[],
  knownCount: number,
): string {
  const what = rule.fields.map((f) => f.name).join(' + ');
  const by = Object.entries(signal.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const user = signal.context.user?.name;
  const actor = user && !Object.values(signal.group).includes(user) ? ` by ${user}` : '';
  const more = knownCount > known.length ? ` and ${knownCount - known.length} more` : '';
  const knownText = known.length > 0 ? ` (known: ${known.map(quote).join(', ')}${more})` : '';
  const cluster = signal.context.orchestrator?.cluster?.name ?? 'unknown';
  return `first ${what} ${quote(displayValue(rule, value))} in ${durationText(rule.timespanMs)}${by ? ` for ${by}` : ''}${actor}${knownText} in cluster ${cluster} — ${rule.title}`;
}
