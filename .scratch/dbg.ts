import { mkdtempSync, writeFileSync } from 'node:fs';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const dir = mkdtempSync('/tmp/dbg-');
writeFileSync(
  dir + '/a.yml',
  `title: Failed request
name: failed-request
id: 11111111-1111-4111-8111-111111111111
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    responseStatus.code: [401, 403]
  condition: sel
level: low
---
title: Auth failure burst
name: auth-failure-burst
id: 22222222-2222-4222-8222-222222222222
correlation:
  type: event_count
  rules: [failed-request]
  group-by: [user.username, sourceIPs]
  timespan: 5m
  condition: {gte: 10}
level: high
`,
);
const { ruleset, errors } = loadRules([dir]);
console.log(errors);
const d = new Detector(ruleset);
const B = Date.parse('2024-05-01T12:00:00Z');
for (let i = 0; i < 12; i++) {
  const t = new Date(B + i * 20000).toISOString();
  const a = {
    kind: 'Event',
    auditID: 'a' + i,
    stage: 'ResponseComplete',
    verb: 'get',
    user: { username: 'm' },
    sourceIPs: ['1.2.3.4'],
    objectRef: { resource: 'secrets' },
    responseStatus: { code: 403 },
    stageTimestamp: t,
  };
  const e: any = {
    '@timestamp': t,
    event: { kind: 'event', dataset: 'kubernetes.audit', action: 'get', outcome: 'failure', id: 'a' + i },
    user: { name: 'm' },
    orchestrator: { type: 'kubernetes', cluster: { name: 'p' } },
    kubernetes: { audit: a },
  };
  console.log('event', i, d.process(e).length);
}
console.log('flush', d.flush().length);
