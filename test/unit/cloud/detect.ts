import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, loadRules, type RuleSet } from '../../../src/detect/index.ts';
import { type CloudOrigin, clusterNameOf, unwrapCloudRecord } from '../../../src/normalize/cloud-record.ts';
import { normalizeAudit } from '../../../src/normalize/index.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { DETECTIONS } from '../catalogue/replay.ts';
import { FIXTURES } from './fixtures.ts';

export function catalogue(): RuleSet {
  const { ruleset, errors } = loadRules([DETECTIONS]);
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.where}: ${e.reason}`).join('\n'));
  return ruleset;
}

/** The catalogue without some of its filter files (to show what they quiet). */
export function catalogueWithout(...filters: string[]): RuleSet {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-rules-'));
  try {
    cpSync(DETECTIONS, dir, { recursive: true });
    for (const f of filters) rmSync(join(dir, 'filters', f));
    const { ruleset, errors } = loadRules([dir]);
    if (errors.length > 0) throw new Error(errors.map((e) => `${e.where}: ${e.reason}`).join('\n'));
    return ruleset;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the detector over events in time order, as the live pipeline sees them. */
export function detect(ruleset: RuleSet, events: NormalizedEvent[]): Alert[] {
  const sorted = [...events].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
  const detector = new Detector(ruleset, { now: () => new Date('2025-03-11T15:00:00Z') });
  const alerts: Alert[] = [];
  for (const e of sorted) alerts.push(...detector.process(e));
  alerts.push(...detector.flush());
  return alerts;
}

/** Normalizes a raw audit event the way the shared accept path does. */
export function normalized(raw: unknown, cluster: string): NormalizedEvent {
  const result = normalizeAudit(raw, { cluster });
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

/** Unwraps cloud deliveries and normalizes every event with the cluster the delivery names. */
export function fromCloud(records: unknown[]): {
  events: NormalizedEvent[];
  rejected: string[];
  ignored: number;
} {
  const events: NormalizedEvent[] = [];
  const rejected: string[] = [];
  let ignored = 0;
  for (const raw of records) {
    const unwrapped = unwrapCloudRecord(raw);
    if (!unwrapped) throw new Error('not a cloud delivery');
    ignored += unwrapped.batch.ignored;
    for (const item of unwrapped.batch.items) {
      if (!item.ok) rejected.push(`${item.where}: ${item.reason}`);
      else events.push(normalized(item.event, clusterNameOf(item.origin as CloudOrigin) ?? 'unknown'));
    }
  }
  return { events, rejected, ignored };
}

export function selfManaged(file: string, cluster: string): NormalizedEvent[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => normalized(JSON.parse(l), cluster));
}

/** `rule: severity × count`, sorted: what an on-call engineer would see. */
export function summary(alerts: Alert[]): string[] {
  const counts = new Map<string, number>();
  for (const a of alerts) {
    const key = `${a.rule.name}: ${a.klaxon.severity}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} × ${n}`).sort();
}
