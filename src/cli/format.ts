import { z } from 'zod';
import { type Alert, Level, SEVERITY_SCORE } from '../schema/alert.ts';

/**
 * How `serve` and `replay` print alerts on stdout: JSON lines for programs (the default when
 * stdout is a pipe or a file), or one compact line per alert for a person at a terminal.
 */
export const OutputFormat = z.enum(['json', 'text']);
export type OutputFormat = z.infer<typeof OutputFormat>;

/** `--format` wins; otherwise text on a terminal and JSON lines anywhere else. */
export function chooseFormat(flag: OutputFormat | undefined, isTTY: boolean): OutputFormat {
  return flag ?? (isTTY ? 'text' : 'json');
}

/** Colour only for a terminal, and never when the user asked for none (https://no-color.org). */
export function useColor(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  return isTTY && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

const STYLE: Record<Level, string> = {
  critical: '\x1b[1;97;41m',
  high: '\x1b[1;31m',
  medium: '\x1b[33m',
  low: '\x1b[36m',
  informational: '\x1b[2m',
};
const LABEL: Record<Level, string> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  medium: 'MEDIUM',
  low: 'LOW',
  informational: 'INFO',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';

/**
 * Values come from audit events and Falco alerts, i.e. from whoever sent them: control
 * characters (terminal escape sequences, newlines) are shown escaped, never interpreted.
 */
function clean(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return value.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function field(obj: Record<string, unknown> | undefined, ...path: string[]): string | undefined {
  let v: unknown = obj;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return text(v);
}

/** Who acted: the user, and where from. */
function who(alert: Alert): string | undefined {
  const user = alert.user?.name ?? field(alert.falco, 'output_fields', 'user.name');
  const ip = alert.source?.ip;
  if (user && ip) return `${user} (${ip})`;
  return user ?? ip;
}

/** What was done: the API verb on the object, or the process Falco saw. */
function what(alert: Alert): string | undefined {
  const audit = alert.kubernetes?.audit;
  const verb = field(audit, 'verb');
  if (verb) {
    const resource = field(audit, 'objectRef', 'resource') ?? alert.orchestrator?.resource?.type;
    const sub = field(audit, 'objectRef', 'subresource');
    const name = field(audit, 'objectRef', 'name') ?? alert.orchestrator?.resource?.name;
    const object = [resource && sub ? `${resource}/${sub}` : resource, name].filter(Boolean).join(' ');
    return object ? `${verb} ${object}` : verb;
  }
  const rule = field(alert.falco, 'rule');
  const detail =
    field(alert.falco, 'output_fields', 'proc.cmdline') ??
    field(alert.falco, 'output_fields', 'fd.name') ??
    alert.container?.image?.name;
  if (rule && detail) return `${rule} (${detail})`;
  return rule ?? detail;
}

/** Where: the namespace, and the pod when Falco names it. */
function where(alert: Alert): string | undefined {
  const ns = alert.orchestrator?.namespace ?? field(alert.falco, 'output_fields', 'k8s.ns.name');
  const pod = field(alert.falco, 'output_fields', 'k8s.pod.name');
  if (ns && pod) return `${ns}/${pod}`;
  return ns ?? pod;
}

/**
 * One line per alert, for on-call reading a terminal during an incident:
 * `2025-03-14 09:26:53Z HIGH     rule-name  cluster=c  who=alice (10.0.0.7)  what=create secrets x  where=ns`
 * (fields without a value are left out; `x3` when a correlation or suppression folded events).
 */
export function formatAlertText(alert: Alert, color: boolean): string {
  const level = alert.klaxon.severity;
  const time = alert['@timestamp'].replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const severity = LABEL[level].padEnd(8);
  const parts = [
    color ? `${DIM}${clean(time)}${RESET}` : clean(time),
    color ? `${STYLE[level]}${severity}${RESET}` : severity,
    color ? `${BOLD}${clean(alert.rule.name)}${RESET}` : clean(alert.rule.name),
  ];
  const fields: [string, string | undefined][] = [
    ['cluster', alert.orchestrator?.cluster?.name],
    ['who', who(alert)],
    ['what', what(alert)],
    ['where', where(alert)],
  ];
  for (const [name, value] of fields) {
    if (value !== undefined)
      parts.push(color ? `${DIM}${name}=${RESET}${clean(value)}` : `${name}=${clean(value)}`);
  }
  if (alert.klaxon.count > 1) parts.push(`x${alert.klaxon.count}`);
  return parts.join('  ');
}

export interface AlertOutput {
  format: OutputFormat;
  /** Alerts below this level are not printed. */
  minLevel: Level;
  color: boolean;
}

/** The line to print for an alert (without the newline), or undefined when it is below the level. */
export function alertLine(alert: Alert, out: AlertOutput): string | undefined {
  if (SEVERITY_SCORE[alert.klaxon.severity] < SEVERITY_SCORE[out.minLevel]) return undefined;
  return out.format === 'json' ? JSON.stringify(alert) : formatAlertText(alert, out.color);
}

/** Parses a `--format` value; a clear message for anything else. */
export function parseFormat(value: string): OutputFormat {
  const parsed = OutputFormat.safeParse(value);
  if (!parsed.success) throw new Error(`--format must be one of ${OutputFormat.options.join(', ')}`);
  return parsed.data;
}

/** Parses a `--min-level` (or `--fail-on`) value; a clear message for anything else. */
export function parseLevel(value: string, flag = '--min-level'): Level {
  const parsed = Level.safeParse(value);
  if (!parsed.success) throw new Error(`${flag} must be one of ${Level.options.join(', ')}`);
  return parsed.data;
}
