import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type ReplayOptions, runReplay } from '../../../src/cli/replay.ts';
import type { Alert } from '../../../src/schema/alert.ts';

const RULES = `title: Exec into pod
name: exec-into-pod
id: 0e000000-0000-4000-8000-000000000001
logsource: {product: kubernetes, service: audit}
detection:
  sel: {objectRef.subresource: exec}
  condition: sel
level: medium
---
title: Shell
name: shell
id: 0e000000-0000-4000-8000-000000000002
logsource: {product: falco}
detection:
  sel: {rule|contains: shell}
  condition: sel
level: low
---
title: Exec then shell
name: exec-then-shell
id: 0e000000-0000-4000-8000-000000000003
correlation:
  type: temporal_ordered
  rules: [exec-into-pod, shell]
  group-by: [pod]
  timespan: 2m
  aliases:
    pod: {exec-into-pod: objectRef.name, shell: output_fields.k8s.pod.name}
generate: true
level: critical
---
title: Catastrophic regex
name: catastrophic-regex
id: 0e000000-0000-4000-8000-000000000004
logsource: {product: kubernetes, service: audit}
detection:
  sel: {requestURI|re: '(a+)+$'}
  condition: sel
level: low
`;

const auditLine = (at: string, extra: Record<string, unknown>) =>
  JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `id-${at}`,
    stage: 'ResponseComplete',
    verb: 'get',
    user: { username: 'dev' },
    sourceIPs: ['10.0.0.1'],
    requestReceivedTimestamp: at,
    stageTimestamp: at,
    responseStatus: { code: 200 },
    ...extra,
  });

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-replay-'));
  writeFileSync(join(dir, 'rules.yml'), RULES);
  const auditFile = join(dir, 'audit.jsonl');
  writeFileSync(
    auditFile,
    [
      auditLine('2024-05-01T10:00:00.000000Z', {
        requestURI: `/${'a'.repeat(40_000)}!`,
        objectRef: { resource: 'pods' },
      }),
      '{"kind": "Event", broken',
      auditLine('2024-05-01T10:00:10.000000Z', {
        verb: 'create',
        stage: 'ResponseStarted',
        requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=sh',
        objectRef: { resource: 'pods', subresource: 'exec', name: 'web-1', namespace: 'shop' },
      }),
      auditLine('2024-05-01T10:05:00.000000Z', { objectRef: { resource: 'configmaps' } }),
      '',
    ].join('\n'),
  );
  const falcoFile = join(dir, 'falco.jsonl');
  writeFileSync(
    falcoFile,
    `${JSON.stringify({
      time: '2024-05-01T10:00:40.000000000Z',
      rule: 'Terminal shell in container',
      priority: 'Notice',
      output: 'A shell was spawned in a container',
      source: 'syscall',
      output_fields: { 'k8s.pod.name': 'web-1', 'k8s.ns.name': 'shop' },
    })}\n`,
  );
  return { dir, auditFile, falcoFile };
}

const options = (dir: string, extra: Partial<ReplayOptions> = {}): ReplayOptions => ({
  rules: [join(dir, 'rules.yml')],
  cluster: 'replay',
  minLevel: 'informational',
  stream: false,
  ...extra,
});

describe('klaxon replay', () => {
  it('merges files by event time, survives broken lines and a catastrophic regex, and reports', async () => {
    const { dir, auditFile, falcoFile } = setup();
    const out = sink();
    const err = sink();
    const code = await runReplay([auditFile, falcoFile], options(dir), out, err);
    expect(code).toBe(0);
    const alerts = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert);
    expect(alerts.map((a) => a.rule.name).sort()).toEqual(['exec-into-pod', 'exec-then-shell', 'shell']);
    expect(alerts.find((a) => a.rule.name === 'exec-then-shell')!.klaxon.correlation?.group).toEqual({
      pod: 'web-1',
    });
    expect(err.text()).toContain(`${auditFile}:2: invalid JSON`);
    expect(err.text()).toMatch(/2 file\(s\), 4 record\(s\), 4 event\(s\), 1 bad; 3 alert\(s\)/);
  });

  it('filters by level and fails on a level when asked', async () => {
    const { dir, auditFile, falcoFile } = setup();
    const out = sink();
    const code = await runReplay(
      [auditFile, falcoFile],
      options(dir, { minLevel: 'medium', failOn: 'critical' }),
      out,
      sink(),
    );
    expect(code).toBe(1);
    const names = out
      .text()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as Alert).rule.name);
    expect(names.sort()).toEqual(['exec-into-pod', 'exec-then-shell']);
  });

  it('exits 1 without loadable rules', async () => {
    const { dir, auditFile } = setup();
    const err = sink();
    expect(await runReplay([auditFile], options(dir, { rules: [join(dir, 'none')] }), sink(), err)).toBe(1);
    expect(err.text()).toContain('no loadable rules');
  });
});
