import type { Alert, Level } from '../schema/alert.ts';

/**
 * RFC 5424 syslog messages and RFC 6587 octet-counting frames. Pure functions: the syslog
 * sink does the I/O.
 */

/** RFC 5424 §6.2.1 facility codes, by the names syslog configurations use. */
export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

/** Sigma level → syslog severity (2 critical, 3 error, 4 warning, 5 notice, 6 informational). */
export const SYSLOG_SEVERITY: Record<Level, number> = {
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
  informational: 6,
};

export interface SyslogHeader {
  facility: Facility;
  /** HOSTNAME field: Klaxon's host (RFC 5424 §6.2.4), not the cluster the alert is about. */
  hostname: string;
  appName: string;
  procId: string;
  /** Version of Klaxon, in the `origin` structured-data element. */
  version: string;
  /** Start MSG with the UTF-8 byte order mark, as RFC 5424 §6.4 asks of UTF-8 messages. */
  bom: boolean;
}

const BOM = '\u{FEFF}';

/**
 * A header field: printable US-ASCII without spaces (RFC 5424 §6: PRINTUSASCII), at most
 * `max` characters, `-` (NILVALUE) when nothing is left.
 */
export function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash inside PARAM-VALUE. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** RFC 3339 with at most 6 fractional digits (§6.2.3); `Date#toISOString` gives 3, in UTC. */
function timestamp(iso: string, now: Date): string {
  const t = Date.parse(iso);
  return (Number.isNaN(t) ? now : new Date(t)).toISOString();
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [origin ...] MSG`.
 * TIMESTAMP is when Klaxon raised the alert (`event.created`); MSGID is the rule name, so a
 * receiver can route on it without parsing the payload.
 */
export function formatSyslog(alert: Alert, payload: string, header: SyslogHeader, now = new Date()): string {
  const pri = FACILITIES[header.facility] * 8 + SYSLOG_SEVERITY[alert.klaxon.severity];
  const sd = `[origin software="Klaxon" swVersion="${escapeParamValue(header.version)}"]`;
  return [
    `<${pri}>1`,
    timestamp(alert.event.created, now),
    headerField(header.hostname, 255),
    headerField(header.appName, 48),
    headerField(header.procId, 128),
    headerField(alert.rule.name, 32),
    sd,
    `${header.bom ? BOM : ''}${payload}`,
  ].join(' ');
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes, not characters. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/**
 * The alert as JSON for a syslog MSG of at most `maxBytes`. The raw audit event and Falco
 * alert are what can be large; when the whole alert does not fit they are left out and
 * `klaxon.truncated` says so (the full alert is in Elasticsearch and on `klaxon.alerts`).
 */
export function jsonPayload(alert: Alert, maxBytes: number): string {
  const full = JSON.stringify(alert);
  if (Buffer.byteLength(full, 'utf8') <= maxBytes) return full;
  const { kubernetes: _kubernetes, falco: _falco, ...rest } = alert;
  return JSON.stringify({ ...rest, klaxon: { ...alert.klaxon, truncated: true } });
}
