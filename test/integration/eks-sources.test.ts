// The EKS sources end to end, with the real parts: moto's CloudWatch Logs written with the real AWS SDK, and
// `klaxon serve` processes reading it (`type: cloudwatch`) or receiving Firehose deliveries (`type: firehose`)
// over HTTP. The audit events are EKS's own fixtures (test/fixtures/eks), with fresh ids and times.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Alert } from '../../src/schema/alert.ts';
import { type Served, startServe } from '../helpers/klaxon-process.ts';
import { fixtureJson } from '../unit/cloud/fixtures.ts';
import { cloudWatchLogsClient, waitFor } from './services.ts';

type Json = Record<string, unknown>;
type Payload = Json & { logEvents: Array<{ message: string }> };
const auditPayload = fixtureJson('eks/subscription-audit.json') as Payload;
const controlPlanePayload = fixtureJson('eks/subscription-control-plane.json') as Payload;
const authenticatorPayload = fixtureJson('eks/subscription-authenticator.json') as Payload;
const controlMessage = fixtureJson('eks/subscription-control-message.json');

/** Microsecond ISO time, as the API server writes it. */
const micro = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * The fixture's audit events with ids of this run (the two stages of one request keep one id) and the time
 * they are put at, as EKS writes them: one JSON Event per log event message.
 */
function freshEvents(payload: Payload): Array<(at: number) => { timestamp: number; message: string }> {
  const ids = new Map<string, string>();
  return payload.logEvents.map(({ message }) => (at: number) => {
    const event = JSON.parse(message) as Json;
    const id = String(event.auditID);
    if (!ids.has(id)) ids.set(id, randomUUID());
    return {
      timestamp: at,
      message: JSON.stringify({
        ...event,
        auditID: ids.get(id),
        requestReceivedTimestamp: micro(at - 3),
        stageTimestamp: micro(at),
      }),
    };
  });
}

const auditStream = () => `kube-apiserver-audit-${randomBytes(16).toString('hex')}`;

/** A metric's value in Prometheus text, for one label set (0 when absent). */
async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const set = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`)))
      return Number(line.split(' ').at(-1));
  }
  return 0;
}

function alertsOf(served: Served, cluster: string): Alert[] {
  return served
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Alert)
    .filter((a) => a.orchestrator?.cluster?.name === cluster);
}

const running: Served[] = [];
afterEach(() => {
  for (const served of running.splice(0)) served.child.kill('SIGKILL');
});

function serve(settings: Json, stateDir: string, env: Record<string, string> = {}): Promise<Served> {
  const file = join(stateDir, 'klaxon.yaml');
  writeFileSync(file, stringify(settings));
  return startServe({ KLAXON_CONFIG: file, KLAXON_STATE_DIR: join(stateDir, 'state'), ...env }).then((s) => {
    running.push(s);
    return s;
  });
}

describe('EKS audit logs from CloudWatch Logs (type: cloudwatch)', () => {
  let client: CloudWatchLogsClient;
  const groups: string[] = [];

  beforeAll(() => {
    client = cloudWatchLogsClient();
  });
  afterAll(async () => {
    for (const logGroupName of groups)
      await client.send(new DeleteLogGroupCommand({ logGroupName })).catch(() => undefined);
    client.destroy();
  });

  async function group(cluster: string, streams: string[]): Promise<string> {
    const logGroupName = `/aws/eks/${cluster}/cluster`;
    await client.send(new CreateLogGroupCommand({ logGroupName }));
    groups.push(logGroupName);
    for (const logStreamName of streams)
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
    return logGroupName;
  }

  async function put(
    logGroupName: string,
    logStreamName: string,
    logEvents: Array<{ timestamp: number; message: string }>,
  ): Promise<void> {
    const result = await client.send(new PutLogEventsCommand({ logGroupName, logStreamName, logEvents }));
    expect(result.rejectedLogEventsInfo).toBeUndefined();
  }

  it('alerts on what EKS writes, across a restart in the middle of a stream, a new stream and late events: nothing lost, nothing twice', async () => {
    const cluster = `eks-${randomBytes(5).toString('hex')}`;
    const streamA = auditStream();
    const authenticator = `authenticator-${randomBytes(16).toString('hex')}`;
    const logGroupName = await group(cluster, [streamA, authenticator]);
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-cw-'));
    const settings = {
      sources: {
        'eks-audit': {
          type: 'cloudwatch',
          cluster,
          pollSeconds: 1,
          overlapSeconds: 2,
          latenessSeconds: 600,
          lateScanSeconds: 5,
          startAt: 'beginning',
        },
      },
    };
    const audit = freshEvents(auditPayload);
    const controlPlane = freshEvents(controlPlanePayload);
    const base = Date.now() - 120_000;
    const accepted = (url: string) =>
      metric(url, 'klaxon_ingest_events_total', { source: 'audit', cluster, outcome: 'accepted' });

    // Before the first start: the pod, the exec, the forbidden list and four 401s (stream A), and the
    // authenticator's text lines in their own stream.
    await put(
      logGroupName,
      streamA,
      [0, 1, 2, 4, 6, 7, 8, 9].map((i) => audit[i]!(base + i * 1000)),
    );
    await put(
      logGroupName,
      authenticator,
      authenticatorPayload.logEvents.map(({ message }, i) => ({ timestamp: base + i, message })),
    );
    const first = await serve(settings, dir);
    await waitFor(async () => (await accepted(first.url)) === 8, 60_000, 250);
    // While it runs: two more, stamped now.
    await put(
      logGroupName,
      streamA,
      [10, 11].map((i) => audit[i]!(Date.now())),
    );
    await waitFor(async () => (await accepted(first.url)) === 10, 60_000, 250);
    await waitFor(() => alertsOf(first, cluster).some((a) => a.rule.name === 'k8s-exec-into-pod'), 30_000);
    const acceptedFirst = await accepted(first.url);
    expect(await first.kill('SIGTERM')).toBe(0);

    // While it is stopped: the stream goes on, a new stream starts (EKS's own add-ons and the rest of the
    // 401s), and the cluster-admin binding arrives late, stamped before events already read.
    await put(
      logGroupName,
      streamA,
      [12, 13].map((i) => audit[i]!(Date.now())),
    );
    await put(logGroupName, streamA, [audit[3]!(base + 3000)]);
    const streamB = auditStream();
    await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName: streamB }));
    const now = Date.now();
    await put(logGroupName, streamB, [
      ...controlPlane.map((event, i) => event(now + i)),
      ...[14, 15, 16, 17].map((i, k) => audit[i]!(now + 100 + k)),
    ]);

    const second = await serve(settings, dir);
    const total = auditPayload.logEvents.length + controlPlanePayload.logEvents.length;
    await waitFor(async () => (await accepted(second.url)) === total - acceptedFirst - 1, 60_000, 250);
    // While it runs, an event stamped minutes ago, long behind what was read: the late scan finds it.
    await put(logGroupName, streamA, [audit[5]!(base + 5000)]);
    await waitFor(async () => (await accepted(second.url)) === total - acceptedFirst, 60_000, 250);
    await waitFor(
      () => alertsOf(second, cluster).some((a) => a.rule.name === 'k8s-secret-read-by-unusual-agent'),
      30_000,
    );
    // Re-read after the restart and by every late scan since, and dropped, not sent on again:
    const labels = { source: 'eks-audit', cluster };
    const repeats = () =>
      metric(second.url, 'klaxon_cloudwatch_events_total', { ...labels, outcome: 'repeat' });
    const repeatsNow = await repeats();
    expect(repeatsNow).toBeGreaterThan(0);
    await waitFor(async () => (await repeats()) > repeatsNow, 30_000, 250);
    expect(await accepted(second.url)).toBe(total - acceptedFirst);
    expect(
      await metric(second.url, 'klaxon_cloudwatch_events_total', { ...labels, outcome: 'late' }),
    ).toBeGreaterThan(0);
    expect(await metric(second.url, 'klaxon_cloudwatch_lag_seconds', labels)).toBeGreaterThan(0);
    const readyz = (await (await fetch(`${second.url}/readyz`)).json()) as Json;
    expect(readyz.status).toBe('ready');
    expect(await second.kill('SIGTERM')).toBe(0);

    // Every event accepted exactly once across both runs (the metric counts before any deduplication).
    const alerts = [...alertsOf(first, cluster), ...alertsOf(second, cluster)].filter(
      (a) => a.klaxon.revision === 0,
    );
    const ids = alerts.map((a) => a.klaxon.alert_id);
    expect(new Set(ids).size).toBe(ids.length);
    const once = (rule: string) => alerts.filter((a) => a.rule.name === rule).length;
    for (const rule of [
      'k8s-privileged-container',
      'k8s-exec-into-pod',
      'k8s-forbidden-service-account',
      'k8s-cluster-admin-binding',
      'k8s-secret-read-by-unusual-agent',
    ])
      expect(once(rule), rule).toBe(1);
    // The allow-list quiets EKS's own control plane and add-ons on the real stream.
    expect(alerts.filter((a) => a.user?.name?.startsWith('eks:'))).toEqual([]);
  }, 300_000);

  it('reports a deleted log group in /readyz and its error metric while another group goes on being read', async () => {
    const gone = `eks-${randomBytes(5).toString('hex')}`;
    const alive = `eks-${randomBytes(5).toString('hex')}`;
    const goneStream = auditStream();
    const aliveStream = auditStream();
    const goneGroup = await group(gone, [goneStream]);
    const aliveGroup = await group(alive, [aliveStream]);
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-cw-'));
    const source = { type: 'cloudwatch', pollSeconds: 1, overlapSeconds: 2, startAt: 'beginning' };
    const served = await serve(
      {
        sources: { 'gone-audit': { ...source, cluster: gone }, 'alive-audit': { ...source, cluster: alive } },
      },
      dir,
    );
    const audit = freshEvents(auditPayload);
    await put(goneGroup, goneStream, [audit[0]!(Date.now())]);
    await waitFor(
      async () =>
        (await metric(served.url, 'klaxon_ingest_events_total', { cluster: gone, outcome: 'accepted' })) ===
        1,
      60_000,
      250,
    );
    await client.send(new DeleteLogGroupCommand({ logGroupName: goneGroup }));
    const readyz = await waitFor(
      async () => {
        const body = (await (await fetch(`${served.url}/readyz`)).json()) as {
          status: string;
          sources?: string[];
        };
        return body.status === 'degraded' ? body : undefined;
      },
      60_000,
      250,
    );
    expect(readyz.sources).toEqual([
      `gone-audit: log group ${goneGroup} does not exist (deleted, another region, or EKS audit logging is off)`,
    ]);
    expect(
      await metric(served.url, 'klaxon_cloudwatch_errors_total', { source: 'gone-audit', kind: 'not_found' }),
    ).toBeGreaterThan(0);

    await put(aliveGroup, aliveStream, [audit[3]!(Date.now())]);
    await waitFor(
      () => alertsOf(served, alive).some((a) => a.rule.name === 'k8s-cluster-admin-binding'),
      60_000,
    );
    expect(served.child.exitCode).toBeNull();
  }, 180_000);
});

describe('EKS audit logs from Amazon Data Firehose (type: firehose)', () => {
  const KEY = `fh-${randomBytes(24).toString('base64url')}`;

  /** The request exactly as Firehose sends it: headers, and each record the base64 of a gzip'd payload. */
  function deliver(
    url: string,
    payloads: unknown[],
    options: { key?: string; gzipBody?: boolean; requestId?: string } = {},
  ): Promise<{ status: number; connection: string | undefined; body: Json }> {
    const requestId = options.requestId ?? randomUUID();
    const json = JSON.stringify({
      requestId,
      timestamp: Date.now(),
      records: payloads.map((p) => ({ data: gzipSync(JSON.stringify(p)).toString('base64') })),
    });
    const body = options.gzipBody ? gzipSync(json) : Buffer.from(json);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${url}/v1/firehose`,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': body.length,
            'X-Amz-Firehose-Protocol-Version': '1.0',
            'X-Amz-Firehose-Request-Id': requestId,
            'X-Amz-Firehose-Source-Arn': 'arn:aws:firehose:eu-west-1:111122223333:deliverystream/eks-audit',
            'X-Amz-Firehose-Access-Key': options.key ?? KEY,
            ...(options.gzipBody ? { 'Content-Encoding': 'gzip' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              connection: res.headers.connection,
              body: JSON.parse(text) as Json,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('answers Firehose exactly, stores what it acknowledges, and alerts', async () => {
    const cluster = `eks-${randomBytes(5).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-fh-'));
    const keysFile = join(dir, 'firehose-keys.yaml');
    writeFileSync(keysFile, stringify({ [cluster]: KEY }), { mode: 0o600 });
    const served = await serve(
      { sources: { firehose: { type: 'firehose', accessKeysFile: keysFile } } },
      dir,
    );
    const withIds = (payload: Payload) => {
      const events = freshEvents(payload);
      const now = Date.now();
      return { ...payload, logEvents: events.map((e, i) => ({ id: randomUUID(), ...e(now + i) })) };
    };
    const audit = withIds(auditPayload);

    const requestId = randomUUID();
    const ok = await deliver(served.url, [controlMessage, audit, authenticatorPayload], {
      gzipBody: true,
      requestId,
    });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(['requestId', 'timestamp']);
    expect(ok.body.requestId).toBe(requestId);
    await waitFor(
      () => alertsOf(served, cluster).some((a) => a.rule.name === 'k8s-privileged-container'),
      30_000,
    );
    expect(
      await metric(served.url, 'klaxon_ingest_events_total', {
        source: 'audit',
        cluster,
        outcome: 'accepted',
      }),
    ).toBe(auditPayload.logEvents.length);

    const refused = await deliver(served.url, [audit], {
      key: `fh-${randomBytes(24).toString('base64url')}`,
    });
    expect(refused.status).toBe(401);
    expect(refused.connection).toBe('close');
    expect(Object.keys(refused.body).sort()).toEqual(['errorMessage', 'requestId', 'timestamp']);

    const huge = withIds(auditPayload);
    const first = JSON.parse(huge.logEvents[3]!.message) as Json;
    huge.logEvents = [
      {
        ...huge.logEvents[3]!,
        message: JSON.stringify({ ...first, requestObject: { pad: 'x'.repeat(300 * 1024) } }),
      },
    ];
    const oversize = await deliver(served.url, [huge]);
    expect(oversize.status).toBe(400);
    expect(String(oversize.body.errorMessage)).toMatch(/over the limit/);
    expect(
      await metric(served.url, 'klaxon_ingest_rejected_total', { source: 'audit', reason: 'too_large' }),
    ).toBe(1);
    expect(
      await metric(served.url, 'klaxon_ingest_requests_total', { endpoint: 'firehose', code: '401' }),
    ).toBe(1);
  }, 180_000);
});
