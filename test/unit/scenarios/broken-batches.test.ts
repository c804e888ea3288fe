import { appendFileSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { type Served, startServe } from '../../helpers/klaxon-process.ts';
import { ROOT, replay } from '../catalogue/replay.ts';
import { audit, container, falcoAlert, falcosidekick, podSpec, serviceAccount, user } from './k8s.ts';

const FIXTURE = join(ROOT, 'test/fixtures/scenarios/broken-batch.jsonl');
const VALID_RULES = [
  'k8s-privileged-container',
  'k8s-secret-read-by-unusual-agent',
  'k8s-cluster-admin-binding',
  'k8s-exec-into-pod',
  'k8s-exec-followed-by-shell',
  'falco-runtime-alert',
];

const mallory = user('mallory@example.com', '203.0.113.45');
/** A ConfigMap create at RequestResponse level of about 300 KiB: valid, but over ingest's 256 KiB per-event limit. */
const huge = (at: number) =>
  audit({
    at,
    actor: mallory,
    verb: 'create',
    ref: { resource: 'configmaps', namespace: 'shop' },
    requestObject: {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'bundle', namespace: 'shop' },
      data: { 'bundle.js': 'x'.repeat(300 * 1024) },
    },
  });

/** Scenario f: broken input in the middle of valid events. */
describe('broken batches through klaxon replay', { timeout: 30_000 }, () => {
  it('truncated lines, wrong types, {"kind":0}, junk and broken EventList items: the valid events still alert, every bad record is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-broken-'));
    const file = join(dir, 'audit.jsonl');
    copyFileSync(FIXTURE, file);
    appendFileSync(file, `${JSON.stringify(huge(Date.UTC(2024, 5, 11, 9, 1)))}\n`);
    const { code, alerts, stderr } = await replay([file]);
    expect(code).toBe(0);
    const fired = new Set(alerts.map((a) => a.rule.name));
    for (const rule of VALID_RULES) expect(fired, rule).toContain(rule);
    for (const where of [
      ':2:',
      ':3:',
      ':4:',
      ':5:',
      ':6:',
      ':8#1:',
      ':8#2:',
      ':8#4:',
      ':10:',
      ':12:',
      ':13:',
      ':14:',
    ])
      expect(stderr, where).toContain(`audit.jsonl${where}`);
    // The 300 KiB event is a valid audit event: replay keeps it (the ingest limit is for what the network sends).
    expect(stderr).toMatch(/14 record\(s\), 6 event\(s\), 13 bad/);
  });
});

function startScenarioServe(token: string): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-serve-scenario-'));
  writeFileSync(join(dir, 'tokens.yaml'), `prod: ${token}\n`);
  return startServe({
    KLAXON_RULES: undefined,
    KLAXON_TOKENS_FILE: join(dir, 'tokens.yaml'),
    KLAXON_SPOOL_DIR: join(dir, 'spool'),
  });
}

describe('broken batches through klaxon serve over HTTP', { timeout: 90_000 }, () => {
  const token = 'scenario-token-5f0e2c9a7b3d41e8-xyzw';
  let served: Served;
  beforeAll(async () => {
    served = await startScenarioServe(token);
  }, 90_000);
  afterAll(async () => {
    await served.kill('SIGTERM');
  });

  const post = (path: string, body: string, type = 'application/json') =>
    fetch(`${served.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    });

  it('an EventList with broken items and a 300 KiB event: 200, the valid items accepted and alerting, each rejection with its index and reason', async () => {
    const now = Date.now();
    const priv = audit({
      at: now,
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'default' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { name: 'pwn', namespace: 'default' },
        spec: podSpec([container('pwn', 'docker.io/library/alpine:3.19', { privileged: true })]),
      },
    });
    const curl = audit({
      at: now + 1000,
      actor: serviceAccount('payments', 'payments-api', '203.0.113.99', 'curl/8.5.0'),
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'payments', name: 'stripe-api' },
    });
    const exec = audit({
      at: now + 2000,
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop', name: 'web-1', subresource: 'exec' },
      query: 'command=sh&stdin=true&tty=true',
      code: 101,
      stage: 'ResponseStarted',
    });
    const items = [
      priv,
      { kind: 0 },
      huge(now + 1500),
      { ...curl, verb: 42 },
      curl,
      'not an event',
      null,
      { kind: 'Event' },
      exec,
    ];
    const res = await post(
      '/v1/audit',
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
    expect(body.accepted).toBe(3);
    expect(body.rejected.map((r) => r.index)).toEqual([1, 2, 3, 5, 6, 7]);
    for (const r of body.rejected) expect(r.reason).not.toBe('');

    const shell = await post(
      '/v1/falco',
      JSON.stringify(falcoAlert(now + 20_000, 'Terminal shell in container', 'Notice', 'shop', 'web-1')),
    );
    expect(shell.status).toBe(200);
    const ndjson = [
      JSON.stringify(
        falcosidekick(now + 21_000, 'Read sensitive file untrusted', 'Warning', 'shop', 'web-1'),
      ),
      '{"broken',
      '{"output":"x","priority":"Bogus","rule":5}',
    ].join('\n');
    const nd = await post('/v1/falco', ndjson, 'application/x-ndjson');
    expect(nd.status).toBe(200);
    expect(((await nd.json()) as { accepted: number }).accepted).toBe(1);

    const want = [
      'k8s-privileged-container',
      'k8s-secret-read-by-unusual-agent',
      'k8s-exec-into-pod',
      'k8s-exec-followed-by-shell',
      'falco-runtime-alert',
    ];
    const deadline = Date.now() + 30_000;
    let alerts: Alert[] = [];
    while (Date.now() < deadline) {
      alerts = served
        .stdout()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Alert);
      if (want.every((r) => alerts.some((a) => a.rule.name === r))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const rule of want)
      expect(
        alerts.map((a) => a.rule.name),
        rule,
      ).toContain(rule);
    for (const a of alerts) expect(a.orchestrator?.cluster?.name).toBe('prod');
    expect(alerts.find((a) => a.rule.name === 'k8s-exec-followed-by-shell')?.klaxon.severity).toBe(
      'critical',
    );
  });
});
