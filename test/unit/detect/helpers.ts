import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, type DetectorOptions, loadRules } from '../../../src/detect/index.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';

export const BASE = Date.parse('2024-05-01T12:00:00Z');

let seq = 0;

/** A normalized audit event built directly (no normalizer): `at` is seconds after BASE. */
export function audit(raw: Record<string, unknown>, at = 0, cluster = 'prod'): NormalizedEvent {
  const time = new Date(BASE + at * 1000).toISOString();
  const a: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `audit-${++seq}`,
    stage: 'ResponseComplete',
    stageTimestamp: time,
    responseStatus: { code: 200 },
    ...raw,
  };
  const user = a.user as { username?: string } | undefined;
  const ref = (a.objectRef as Record<string, string> | undefined) ?? {};
  const ips = a.sourceIPs as string[] | undefined;
  return {
    '@timestamp': time,
    event: {
      kind: 'event',
      dataset: 'kubernetes.audit',
      action: String(a.verb ?? ''),
      outcome: 'success',
      id: `${a.auditID}/${a.stage ?? 'ResponseComplete'}`,
    },
    ...(user?.username ? { user: { name: user.username } } : {}),
    ...(ips?.[0] ? { source: { ip: ips[0] } } : {}),
    orchestrator: {
      type: 'kubernetes',
      cluster: { name: cluster },
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      resource: { type: ref.resource, name: ref.name },
    },
    kubernetes: { audit: a },
  };
}

/** A normalized Falco event built directly. */
export function falco(raw: Record<string, unknown>, at = 0, cluster = 'prod'): NormalizedEvent {
  const time = new Date(BASE + at * 1000).toISOString();
  const f: Record<string, unknown> = { priority: 'Warning', output: 'x', source: 'syscall', time, ...raw };
  const of = (f.output_fields as Record<string, string> | undefined) ?? {};
  return {
    '@timestamp': time,
    event: {
      kind: 'event',
      dataset: 'falco',
      action: String(f.rule ?? ''),
      outcome: 'unknown',
      id: `falco-${++seq}`,
    },
    orchestrator: {
      type: 'kubernetes',
      cluster: { name: cluster },
      ...(of['k8s.ns.name'] ? { namespace: of['k8s.ns.name'] } : {}),
      ...(of['k8s.pod.name'] ? { resource: { type: 'pod', name: of['k8s.pod.name'] } } : {}),
    },
    falco: f,
  };
}

/** Writes YAML rule text to a fresh directory and loads it. */
export function rulesFrom(...files: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-rules-'));
  files.forEach((text, i) => {
    writeFileSync(join(dir, `rule${i}.yml`), text);
  });
  return { dir, ...loadRules([dir]) };
}

/** A detection rule document around a detection section (audit logsource unless given). */
export function rule(
  detection: string,
  extra = '',
  logsource = '{product: kubernetes, service: audit}',
): string {
  const id = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
  const name = /^name:/m.test(extra) ? '' : `name: test-rule-${seq}\n`;
  return `title: Test rule ${seq}
${name}id: ${id}
logsource: ${logsource}
level: high
${extra}
detection:
${detection
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

/** Compiles one detection and tells whether it matches the event. */
export function matches(detection: string, event: NormalizedEvent, logsource?: string): boolean {
  const { ruleset, errors } = rulesFrom(rule(detection, '', logsource));
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.where}: ${e.reason}`).join('\n'));
  return new Detector(ruleset).evaluate(event).length > 0;
}

export function run(detector: Detector, events: NormalizedEvent[]): Alert[] {
  const out: Alert[] = [];
  for (const e of events) out.push(...detector.process(e));
  out.push(...detector.flush());
  return out;
}

export function detector(texts: string[], options: DetectorOptions = {}): Detector {
  const { ruleset, errors } = rulesFrom(...texts);
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.where}: ${e.reason}`).join('\n'));
  return new Detector(ruleset, { now: () => new Date(BASE), ...options });
}

/** A detection rule matching every service-account request: what the first-seen tests' rules learn from. */
export const SA_REQUEST_RULE = `title: Service account request
name: sa-request
id: 0e000000-0000-4000-8000-000000000001
logsource: {product: kubernetes, service: audit}
detection:
  sel: {user.username|startswith: 'system:serviceaccount:'}
  condition: sel
level: informational
`;
