// moto's CloudWatch Logs, driven by the real AWS SDK v3 the way the EKS source will drive it: an
// EKS audit log group with rotating `kube-apiserver-audit-*` streams, PutLogEvents of audit.k8s.io
// Events, and every read path (DescribeLogStreams, FilterLogEvents, GetLogEvents) paged with its
// token. What moto does differently from CloudWatch is written down in docs/dev-services.md.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DescribeLogStreamsCommand,
  type FilteredLogEvent,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  type OutputLogEvent,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudWatchLogsClient, endpoints, uniqueTopic } from './services.ts';

type AuditEvent = { kind: string; apiVersion: string; auditID: string; verb: string; stageTimestamp: string };

/** An audit event as EKS writes it into CloudWatch Logs: one JSON Event per log event message. */
function auditEvent(at: number, auditID: string): string {
  const time = new Date(at).toISOString().replace('Z', '000Z');
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods?limit=500',
    verb: 'list',
    user: {
      username: 'kubernetes-admin',
      uid: 'aws-iam-authenticator:111122223333:AIDAEXAMPLEUSERID',
      groups: ['system:masters', 'system:authenticated'],
      extra: {
        arn: ['arn:aws:iam::111122223333:user/alice'],
        canonicalArn: ['arn:aws:iam::111122223333:user/alice'],
        principalId: ['AIDAEXAMPLEUSERID'],
        sessionName: [''],
      },
    },
    sourceIPs: ['203.0.113.7'],
    userAgent: 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: time,
    stageTimestamp: time,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  });
}

function auditIdOf(message: string | undefined): string {
  const parsed = JSON.parse(message ?? 'null') as AuditEvent;
  expect(parsed).toMatchObject({ kind: 'Event', apiVersion: 'audit.k8s.io/v1' });
  return parsed.auditID;
}

async function allFilteredEvents(
  client: CloudWatchLogsClient,
  input: { logGroupName: string; startTime: number; endTime: number },
  limit: number,
): Promise<{ events: FilteredLogEvent[]; pages: number }> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    // `interleaved` is deprecated (CloudWatch always interleaves) but moto only sorts by time with it.
    const page = await client.send(
      new FilterLogEventsCommand({ ...input, interleaved: true, limit, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken && pages < 100);
  return { events, pages };
}

async function wholeStream(
  client: CloudWatchLogsClient,
  logGroupName: string,
  logStreamName: string,
): Promise<OutputLogEvent[]> {
  const events: OutputLogEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await client.send(
      new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, limit: 10, nextToken }),
    );
    events.push(...(result.events ?? []));
    // The end of a stream: the forward token comes back unchanged.
    if (result.nextForwardToken === nextToken) return events;
    nextToken = result.nextForwardToken;
  }
  throw new Error(`GetLogEvents did not reach the end of ${logStreamName} in 100 pages`);
}

describe('moto (CloudWatch Logs)', () => {
  let client: CloudWatchLogsClient;
  const cluster = uniqueTopic('prod-eu').replace(/\./g, '-');
  const logGroupName = `/aws/eks/${cluster}/cluster`;
  const streams = [1, 2].map(() => `kube-apiserver-audit-${randomBytes(16).toString('hex')}`);
  const base = Date.now() - 10 * 60_000;
  const perStream = 25;

  beforeAll(async () => {
    client = cloudWatchLogsClient();
    await client.send(new CreateLogGroupCommand({ logGroupName }));
    for (const logStreamName of streams) {
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
    }
  });
  afterAll(async () => {
    await client.send(new DeleteLogGroupCommand({ logGroupName })).catch(() => undefined);
    client.destroy();
  });

  it('is reached through the SDK endpoint override in the environment, not a client option', async () => {
    expect(process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS).toBe(endpoints().cloudWatchLogsUrl);
    expect(await client.config.region()).toBe(endpoints().awsRegion);
    const found = await client.send(new DescribeLogStreamsCommand({ logGroupName }));
    expect(found.logStreams?.map((stream) => stream.logStreamName).sort()).toEqual([...streams].sort());
  });

  it('takes audit events with PutLogEvents and pages them back with every read API', async () => {
    // The two streams' events alternate in time, as two API server instances write them.
    const sent = new Map<string, number>();
    for (const [s, logStreamName] of streams.entries()) {
      const logEvents = Array.from({ length: perStream }, (_, i) => {
        const at = base + (2 * i + s) * 1000;
        const id = randomUUID();
        sent.set(id, at);
        return { timestamp: at, message: auditEvent(at, id) };
      });
      // Two batches per stream: a reader must see events of later calls too.
      for (const batch of [logEvents.slice(0, 10), logEvents.slice(10)]) {
        const put = await client.send(
          new PutLogEventsCommand({ logGroupName, logStreamName, logEvents: batch }),
        );
        expect(put.rejectedLogEventsInfo).toBeUndefined();
      }
    }

    const names: string[] = [];
    let streamToken: string | undefined;
    do {
      const page = await client.send(
        new DescribeLogStreamsCommand({
          logGroupName,
          logStreamNamePrefix: 'kube-apiserver-audit-',
          limit: 1,
          nextToken: streamToken,
        }),
      );
      expect(page.logStreams).toHaveLength(1);
      const stream = page.logStreams?.[0];
      expect(stream?.firstEventTimestamp).toBeLessThanOrEqual(stream?.lastEventTimestamp ?? 0);
      expect(stream?.lastIngestionTime).toBeGreaterThanOrEqual(stream?.lastEventTimestamp ?? Infinity);
      names.push(stream?.logStreamName ?? '');
      streamToken = page.nextToken;
    } while (streamToken && names.length < 10);
    expect(names).toEqual([...streams].sort());

    const window = { logGroupName, startTime: base, endTime: base + 2 * perStream * 1000 };
    const filtered = await allFilteredEvents(client, window, 7);
    expect(filtered.pages).toBeGreaterThanOrEqual(Math.ceil((2 * perStream) / 7));
    expect(filtered.events.map((event) => auditIdOf(event.message)).sort()).toEqual([...sent.keys()].sort());
    const times = filtered.events.map((event) => event.timestamp ?? 0);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const event of filtered.events) {
      expect(streams).toContain(event.logStreamName);
      expect(event.timestamp).toBe(sent.get(auditIdOf(event.message)));
      expect(event.ingestionTime).toBeGreaterThanOrEqual(event.timestamp ?? Infinity);
    }
    expect(new Set(filtered.events.map((event) => event.eventId)).size).toBe(2 * perStream);

    for (const logStreamName of streams) {
      const events = await wholeStream(client, logGroupName, logStreamName);
      expect(events).toHaveLength(perStream);
      const streamTimes = events.map((event) => event.timestamp ?? 0);
      expect(streamTimes).toEqual([...streamTimes].sort((a, b) => a - b));
    }
  });

  it('keeps an event that arrives late, rejects one older than 14 days, and does not reject the batch', async () => {
    const logStreamName = streams[0] ?? '';
    const now = Date.now();
    const early = randomUUID();
    const late = randomUUID();
    await client.send(
      new PutLogEventsCommand({
        logGroupName,
        logStreamName,
        logEvents: [{ timestamp: now - 5_000, message: auditEvent(now - 5_000, early) }],
      }),
    );
    // Written after `early` but stamped before it: what a checkpoint by timestamp alone would miss.
    const put = await client.send(
      new PutLogEventsCommand({
        logGroupName,
        logStreamName,
        logEvents: [
          { timestamp: now - 15 * 86_400_000, message: auditEvent(now - 15 * 86_400_000, randomUUID()) },
          { timestamp: now - 60_000, message: auditEvent(now - 60_000, late) },
        ],
      }),
    );
    expect(put.rejectedLogEventsInfo).toEqual({ tooOldLogEventEndIndex: 0 });

    const { events } = await allFilteredEvents(
      client,
      { logGroupName, startTime: now - 120_000, endTime: now + 1 },
      100,
    );
    expect(events.map((event) => auditIdOf(event.message))).toEqual([late, early]);
    const [lateEvent, earlyEvent] = events;
    expect(lateEvent?.ingestionTime).toBeGreaterThanOrEqual(earlyEvent?.ingestionTime ?? Infinity);
  });

  it('answers ResourceNotFoundException for a deleted log group', async () => {
    const gone = `/aws/eks/${cluster}-deleted/cluster`;
    await client.send(new CreateLogGroupCommand({ logGroupName: gone }));
    await client.send(new DeleteLogGroupCommand({ logGroupName: gone }));
    await expect(client.send(new FilterLogEventsCommand({ logGroupName: gone }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(client.send(new DescribeLogStreamsCommand({ logGroupName: gone }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
