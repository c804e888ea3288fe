import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { type Served, startServe } from '../helpers/klaxon-process.ts';
import { auditEvent, eventList, falcoAlert, TOKENS } from '../unit/ingest/helpers.ts';
import { kafkaBrokers, uniqueTopic, waitFor } from './services.ts';

// A rule of the test's own, so the test does not depend on the catalogue's wording.
const RULE = `title: Serve test cluster role binding
name: serve-test-crb
id: 5d0c7f8e-4b7a-4c21-9a53-0e3f9f8b1a11
status: test
level: high
logsource:
    product: kubernetes
    service: audit
detection:
    selection:
        verb: create
        objectRef.resource: clusterrolebindings
    condition: selection
`;

let served: Served | undefined;
afterEach(() => {
  served?.child.kill('SIGKILL');
  served = undefined;
});

function startWithRule(extraEnv: Record<string, string>): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-serve-'));
  writeFileSync(join(dir, 'rule.yml'), RULE);
  writeFileSync(
    join(dir, 'tokens.yaml'),
    `prod: ${TOKENS.prod}\nstaging:\n  - ${TOKENS.staging[0]}\n  - ${TOKENS.staging[1]}\n`,
  );
  return startServe({ KLAXON_TOKENS_FILE: join(dir, 'tokens.yaml'), KLAXON_RULES: dir, ...extraEnv });
}

const alertsOf = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Alert);

async function post(url: string, token: string, body: unknown, path = '/v1/audit') {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const binding = (user: string) =>
  auditEvent({
    verb: 'create',
    user: { username: user },
    objectRef: {
      resource: 'clusterrolebindings',
      apiGroup: 'rbac.authorization.k8s.io',
      name: `crb-${user}`,
    },
    responseStatus: { code: 201 },
  });

describe.each([
  ['memory', () => ({})],
  [
    'kafka',
    () => ({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KLAXON_EVENTS_TOPIC: uniqueTopic('serve-events'),
      KLAXON_SERVE_GROUP_ID: uniqueTopic('serve-group'),
    }),
  ],
])('klaxon serve on the %s bus', (kind, extraEnv) => {
  it('is ready, ingests, and prints alerts that carry the cluster of the token', async () => {
    served = await startWithRule(extraEnv());
    const { url } = served;
    expect(served.stderr()).toContain(`"bus":"${kind}"`);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(served.stderr()).not.toContain(TOKENS.prod);

    const batch = await post(
      url,
      TOKENS.prod,
      eventList([auditEvent(), binding('mallory'), auditEvent(), auditEvent()]),
    );
    expect(batch).toEqual({ status: 200, body: { accepted: 4, rejected: [] } });
    expect((await post(url, TOKENS.staging[1]!, eventList([binding('eve')]))).status).toBe(200);
    expect((await post(url, TOKENS.prod, falcoAlert(), '/v1/falco')).status).toBe(200);
    expect((await fetch(`${url}/v1/audit`, { method: 'POST', body: '{}' })).status).toBe(401);

    const alerts = await waitFor(() => {
      const got = alertsOf(served!.stdout()).filter((a) => a.rule.name === 'serve-test-crb');
      return got.length >= 2 && got;
    }, 60_000);
    const byUser = Object.fromEntries(alerts.map((a) => [a.user?.name, a.orchestrator?.cluster?.name]));
    expect(byUser).toEqual({ mallory: 'prod', eve: 'staging' });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      /klaxon_ingest_events_total\{source="audit",cluster="prod",outcome="accepted"\} 4/,
    );
    // serve counts the security signals of what it evaluates, like `detect` does.
    expect(metrics).toMatch(/klaxon_k8s_rbac_changes_total\{cluster="staging",verb="create"\} 1/);
    // Alerts and events are counted once delivered, as `detect` counts them.
    const delivered = await waitFor(async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /klaxon_detect_events_total\{source="falco"\} 1/.test(text) && text;
    }, 30_000);
    expect(delivered).toMatch(/klaxon_detect_events_total\{source="audit"\} 5\n/);
    expect(delivered).toMatch(
      /klaxon_alerts_total\{rule="serve-test-crb",severity="high",cluster="prod"\} 1\n/,
    );
    expect(delivered).toMatch(
      /klaxon_alerts_total\{rule="serve-test-crb",severity="high",cluster="staging"\} 1\n/,
    );

    served.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => served!.child.on('exit', resolve));
    expect(code).toBe(0);
  });
});

describe('klaxon serve on the memory bus, stopped', () => {
  it('detects on SIGTERM what ingest accepted before, then exits 0', async () => {
    served = await startWithRule({});
    // More than two chunks of ordinary requests first, so the bindings are still queued at SIGTERM.
    for (let i = 0; i < 3; i++) {
      const noise = Array.from({ length: 500 }, () => auditEvent());
      expect((await post(served.url, TOKENS.prod, eventList(noise))).status).toBe(200);
    }
    const accepted = await post(
      served.url,
      TOKENS.prod,
      eventList(['oscar', 'peggy', 'victor'].map((user) => binding(user))),
    );
    expect(accepted.status).toBe(200);
    served.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => served!.child.on('exit', resolve));
    expect(code).toBe(0);
    const users = alertsOf(served.stdout())
      .filter((a) => a.rule.name === 'serve-test-crb')
      .map((a) => a.user?.name)
      .sort();
    expect(users).toEqual(['oscar', 'peggy', 'victor']);
  });
});
