// Issue 22: a sender with the token of a low-value cluster (`stage`) cannot keep `prod`'s alerts from
// being raised — through `klaxon serve` and through `klaxon ingest` + `klaxon detect` on the real Kafka.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { type Klaxon, startServe } from '../helpers/klaxon-process.ts';
import { alertsOfRule } from './detect-fixtures.ts';
import { isolatedEnv, startDetect, startIngest } from './fault-processes.ts';
import { elasticsearchClient, waitFor } from './services.ts';

const STAGE = 'stage-token-0123456789abcdefghijklmnopqrs';
const PROD = 'prod-token-0123456789abcdefghijklmnopqrstu';
const catalogue = fileURLToPath(new URL('../../detections', import.meta.url));

function tokensFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-cross-'));
  writeFileSync(join(dir, 'tokens.yaml'), `stage: ${STAGE}\nprod: ${PROD}\n`);
  return join(dir, 'tokens.yaml');
}

let seq = 0;
function auditEvent(over: Record<string, unknown>): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `cross-${Date.now()}-${++seq}`,
    stage: 'ResponseComplete',
    verb: 'get',
    user: { username: 'system:serviceaccount:pay:worker', groups: ['system:serviceaccounts'] },
    sourceIPs: ['10.0.9.4'],
    userAgent: 'Go-http-client/2.0',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...over,
  };
}

const forbiddenList = (over: Record<string, unknown> = {}) =>
  auditEvent({
    verb: 'list',
    requestURI: '/api/v1/namespaces/kube-system/secrets',
    objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 403, reason: 'Forbidden' },
    annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
    ...over,
  });
const secretGet = (name: string, over: Record<string, unknown> = {}) =>
  auditEvent({
    requestURI: `/api/v1/namespaces/pay/secrets/${name}`,
    objectRef: { resource: 'secrets', namespace: 'pay', name, apiVersion: 'v1' },
    userAgent: 'curl/8.5.0',
    ...over,
  });
const unauthorized = (over: Record<string, unknown> = {}) =>
  auditEvent({
    stage: 'ResponseStarted',
    verb: 'list',
    requestURI: '/api/v1/secrets',
    user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
    sourceIPs: ['198.51.100.77'],
    userAgent: 'python-requests/2.31.0',
    responseStatus: {
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    },
    annotations: {},
    ...over,
  });

const FAR_FUTURE = '2099-01-01T00:00:00.000000Z';
/** What a stage sender writes to claim prod and the future. */
const forged = {
  orchestrator: { type: 'kubernetes', cluster: { name: 'prod' } },
  event: { dataset: 'kubernetes.audit', id: 'forged' },
  stageTimestamp: FAR_FUTURE,
  requestReceivedTimestamp: FAR_FUTURE,
};

async function post(url: string, token: string, items: unknown[]): Promise<void> {
  const res = await fetch(`${url}/v1/audit`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }),
  });
  expect(res.status, await res.text()).toBe(200);
}

/** The attack, then prod's genuine activity: what prod's on-call must still be paged for. */
async function attackThenProd(url: string): Promise<void> {
  await post(url, STAGE, [
    forbiddenList(forged),
    unauthorized({ ...forged, sourceIPs: ['198.51.100.77'] }),
    secretGet('x', forged),
  ]);
  await post(url, PROD, [forbiddenList()]);
  await post(
    url,
    PROD,
    ['a', 'b', 'c', 'd', 'e'].map((n) => secretGet(n)),
  );
  await post(
    url,
    PROD,
    Array.from({ length: 10 }, () => unauthorized()),
  );
}

const EXPECTED = ['k8s-auth-failure-burst', 'k8s-forbidden-service-account', 'k8s-secret-enumeration'];
const prodRules = (alerts: Alert[]) =>
  [...new Set(alerts.filter((a) => a.orchestrator?.cluster?.name === 'prod').map((a) => a.rule.name))]
    .filter((r) => EXPECTED.includes(r))
    .sort();

describe('a stage token cannot blind prod', () => {
  const running: Klaxon[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
  });

  it('through klaxon serve', async () => {
    const served = await startServe({ KLAXON_TOKENS_FILE: tokensFile(), KLAXON_RULES: catalogue });
    running.push(served);
    await attackThenProd(served.url);
    const alerts = () =>
      served
        .stdout()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Alert);
    await waitFor(() => prodRules(alerts()).length === EXPECTED.length, 30_000);
    expect(prodRules(alerts())).toEqual(EXPECTED);
    // The stage sender's own alerts carry its own cluster, never the one it claimed.
    const stage = alerts().filter(
      (a) => a.user?.name === 'system:serviceaccount:pay:worker' && a.orchestrator?.cluster?.name !== 'prod',
    );
    expect(stage.every((a) => a.orchestrator?.cluster?.name === 'stage')).toBe(true);
  });

  it('through klaxon ingest and klaxon detect on Kafka', async () => {
    const env: Record<string, string> = { ...isolatedEnv('cross-cluster'), KLAXON_TOKENS_FILE: tokensFile() };
    const ingest = await startIngest(env);
    running.push(ingest.proc);
    running.push(await startDetect(env));
    await attackThenProd(ingest.url);
    const es = elasticsearchClient();
    const prefix = env.KLAXON_ES_INDEX_PREFIX!;
    const found = async () =>
      prodRules((await Promise.all(EXPECTED.map((r) => alertsOfRule(es, prefix, r)))).flat());
    await waitFor(async () => (await found()).length === EXPECTED.length, 90_000, 500);
    expect(await found()).toEqual(EXPECTED);
    // No index was made for the date the stage sender claimed.
    const indices = Object.keys(await es.indices.get({ index: `${prefix}-*`, allow_no_indices: true }));
    expect(indices.some((i) => i.includes('2099'))).toBe(false);
  });
});
