import { isIPv4, isIPv6 } from 'node:net';
import type { Alert, Level } from '../schema/alert.ts';

/**
 * ArcSight Common Event Format (CEF:0), as QRadar, ArcSight, Sentinel and most SIEMs parse it:
 * `CEF:0|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
 * Escaping follows the CEF specification: in the header, `\` and `|` are escaped with a
 * backslash; in extension values, `\` and `=` are, and line breaks become `\n` / `\r`
 * (the only place the format allows multi-line values). Pure functions.
 */

/** Sigma level → CEF severity 0-10 (0-3 low, 4-6 medium, 7-8 high, 9-10 very high). */
export const CEF_SEVERITY: Record<Level, number> = {
  informational: 1,
  low: 3,
  medium: 5,
  high: 8,
  critical: 10,
};

/** A header field: `\` → `\\`, `|` → `\|`; line breaks are not allowed in the header, so they become spaces. */
export function escapeHeader(value: string): string {
  return value.replace(/\r\n|[\r\n]/g, ' ').replace(/[\\|]/g, (c) => `\\${c}`);
}

/** An extension value: `\` → `\\`, `=` → `\=`, CR LF → `\r\n`, LF → `\n`, CR → `\r`. */
export function escapeExtension(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
}

/** Cut to the CEF field length (counted in characters, as the specification does). */
function cut(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max);
}

/** The extension as ordered key/value pairs, before escaping; keys are the CEF dictionary's. */
export function cefExtension(alert: Alert, hostname: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const add = (key: string, value: string | number | undefined, max = 1023) => {
    if (value === undefined || value === '') return;
    pairs.push([key, cut(String(value), max)]);
  };
  const eventTime = Date.parse(alert['@timestamp']);
  add('rt', Number.isNaN(eventTime) ? undefined : eventTime);
  add('msg', alert.message);
  add('suser', alert.user?.name);
  const ip = alert.source?.ip;
  if (ip && isIPv4(ip)) add('src', ip);
  else if (ip && isIPv6(ip)) {
    add('c6a2', ip);
    add('c6a2Label', 'Source IPv6 Address');
  }
  add('requestClientApplication', alert.user_agent?.original);
  const audit = alert.kubernetes?.audit;
  const falco = alert.falco;
  add(
    'act',
    typeof audit?.verb === 'string' ? audit.verb : typeof falco?.rule === 'string' ? falco.rule : undefined,
    63,
  );
  add('cat', alert.threat?.tactic.name.join(','), 1023);
  add('cnt', alert.klaxon.count);
  add('dvchost', hostname, 100);
  add('deviceProcessName', 'klaxon');
  const resource = alert.orchestrator?.resource;
  const custom: Array<[string, string | undefined]> = [
    ['cluster', alert.orchestrator?.cluster?.name],
    ['namespace', alert.orchestrator?.namespace],
    ['resource', resource ? [resource.type, resource.name].filter(Boolean).join('/') : undefined],
    ['mitreTechniques', alert.threat?.technique.id.join(',')],
    ['containerImage', alert.container?.image?.name],
    // Not `externalId`: CEF caps it at 40 characters, and the alert id (a SHA-256) has 64.
    ['alertId', alert.klaxon.alert_id],
  ];
  custom.forEach(([label, value], i) => {
    if (value === undefined || value === '') return;
    add(`cs${i + 1}Label`, label);
    add(`cs${i + 1}`, value, 4000);
  });
  add('flexString1Label', 'ruleId');
  add('flexString1', alert.rule.id);
  add('cn1Label', 'revision');
  add('cn1', alert.klaxon.revision);
  return pairs;
}

export interface CefProduct {
  version: string;
  hostname: string;
}

/** The whole CEF record for one alert. Signature ID is the rule's stable name; Name its description. */
export function formatCef(alert: Alert, product: CefProduct): string {
  const header = [
    'CEF:0',
    'Klaxon',
    'Klaxon',
    escapeHeader(product.version),
    escapeHeader(cut(alert.rule.name, 1023)),
    escapeHeader(cut(alert.rule.description ?? alert.rule.name, 512)),
    String(CEF_SEVERITY[alert.klaxon.severity]),
  ].join('|');
  const extension = cefExtension(alert, product.hostname)
    .map(([key, value]) => `${key}=${escapeExtension(value)}`)
    .join(' ');
  return `${header}|${extension}`;
}
