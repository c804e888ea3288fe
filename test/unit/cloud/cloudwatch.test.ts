import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  eksAuditFromFilterLogEvents,
  eksAuditFromSubscription,
  eksAuditFromSubscriptionData,
  eksClusterFromLogGroup,
} from '../../../src/normalize/cloudwatch.ts';
import {
  eksAuditFromFirehose,
  firehoseError,
  firehoseRequestId,
  firehoseSuccess,
} from '../../../src/normalize/firehose.ts';
import { normalizeAudit } from '../../../src/normalize/index.ts';
import { FirehoseErrorResponse, FirehoseResponse } from '../../../src/schema/firehose.ts';
import { fixtureJson, variant } from './fixtures.ts';

type Json = Record<string, unknown>;
const audit = fixtureJson('eks/subscription-audit.json') as Json & { logEvents: Json[] };
const controlPlane = fixtureJson('eks/subscription-control-plane.json') as Json;
const authenticator = fixtureJson('eks/subscription-authenticator.json') as Json;
const control = fixtureJson('eks/subscription-control-message.json');
const firehose = fixtureJson('eks/firehose-request.json') as Json & { records: Json[] };
const limits = { maxEventBytes: 256 * 1024, maxInflatedBytes: 1 << 20 };

describe('EKS CloudWatch Logs subscription payloads', () => {
  it('gives one audit Event per log event of an audit stream, with the log group, stream and cluster', () => {
    const batch = eksAuditFromSubscription(audit);
    expect(batch.ignored).toBe(0);
    expect(batch.items).toHaveLength(audit.logEvents.length);
    expect(batch.items[0]).toMatchObject({
      ok: true,
      where: 'logEvents[0]',
      origin: {
        logGroup: '/aws/eks/prod-eu/cluster',
        logStream: 'kube-apiserver-audit-3f9c1e7a5b2d4c6e8f0a1b2c3d4e5f6a',
        clusterName: 'prod-eu',
        owner: '111122223333',
        logEventId: audit.logEvents[0]!.id,
      },
      event: { kind: 'Event', verb: 'create', objectRef: { resource: 'pods' } },
    });
  });

  it('ignores control messages and the other control-plane streams', () => {
    expect(eksAuditFromSubscription(control)).toEqual({ items: [], ignored: 1 });
    expect(eksAuditFromSubscription(authenticator)).toEqual({ items: [], ignored: 2 });
  });

  it('rejects a broken, truncated or oversized message alone', () => {
    const events = audit.logEvents;
    const smallest = [...events].sort((a, b) => String(a.message).length - String(b.message).length)[0]!;
    expect(String(smallest.message).length).toBeLessThan(1500);
    const bad = variant(audit, (p) => {
      p.logEvents = [
        smallest,
        { ...events[1], message: `${String(events[1]!.message).slice(0, 300)}[Truncated...]` },
        { ...events[2], message: '{"kind":"Event",' },
        { id: 'x', timestamp: 1 },
        { ...events[3], message: 'x'.repeat(2000) },
      ];
    });
    const batch = eksAuditFromSubscription(bad, { maxEventBytes: 1500, maxInflatedBytes: 1 << 20 });
    expect(batch.items.map((i) => (i.ok ? 'ok' : i.reason))).toEqual([
      'ok',
      'message truncated by CloudWatch Logs (event over its size limit)',
      expect.stringMatching(/^message: invalid JSON/),
      'missing message',
      'audit event larger than 1500 bytes',
    ]);
  });

  it('decodes the gzip payload CloudWatch sends, and plain JSON', () => {
    const zipped = eksAuditFromSubscriptionData(gzipSync(JSON.stringify(audit)));
    expect(zipped.items).toHaveLength(audit.logEvents.length);
    const plain = eksAuditFromSubscriptionData(Buffer.from(JSON.stringify(controlPlane)));
    expect(plain.items.every((i) => i.ok)).toBe(true);
  });

  it('rejects a payload that inflates beyond the budget, cheaply', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(128 * 1024);
    const batch = eksAuditFromSubscriptionData(bomb, limits);
    expect(batch.items).toEqual([{ ok: false, reason: 'decompressed size over the limit', where: '' }]);
  });

  it('rejects an unknown message type and a payload that is not one', () => {
    expect(eksAuditFromSubscription({ ...audit, messageType: 'OTHER' }).items[0]).toMatchObject({
      ok: false,
    });
    expect(eksAuditFromSubscription({ hello: 1 }).items[0]).toMatchObject({ ok: false, where: '' });
  });

  it('derives the cluster only from an EKS log group', () => {
    expect(eksClusterFromLogGroup('/aws/eks/prod-eu/cluster')).toBe('prod-eu');
    expect(eksClusterFromLogGroup('/aws/eks/prod-eu/cluster/extra')).toBeUndefined();
    expect(eksClusterFromLogGroup('/aws/lambda/prod-eu')).toBeUndefined();
  });

  it('keeps what EKS adds to the user where analysts search: IAM ARNs, session name, access key', () => {
    const batch = eksAuditFromSubscription(audit);
    const first = batch.items[0]!;
    if (!first.ok) throw new Error(first.reason);
    const result = normalizeAudit(first.event, { cluster: 'prod-eu' });
    expect(result.ok && result.event.related?.user).toEqual([
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ClusterAdmin_6b9f1c2e4a7d3b5e/alice@example.com',
      'arn:aws:iam::111122223333:role/AWSReservedSSO_ClusterAdmin_6b9f1c2e4a7d3b5e',
      'alice@example.com',
      'AROARZ7EXAMPLEALICE01',
      'ASIARZ7EXAMPLEKEY0001',
    ]);
  });
});

describe('aws logs filter-log-events output', () => {
  it('gives the audit events, ignores other streams, and takes the log group from the caller', () => {
    const batch = eksAuditFromFilterLogEvents(
      fixtureJson('eks/filter-log-events.json'),
      '/aws/eks/prod-eu/cluster',
    );
    expect(batch.ignored).toBe(1);
    expect(batch.items).toHaveLength(3);
    expect(batch.items.every((i) => i.ok)).toBe(true);
    expect(batch.items[0]).toMatchObject({
      origin: { clusterName: 'prod-eu', logStream: expect.stringMatching(/^kube-apiserver-audit-/) },
    });
    const noGroup = eksAuditFromFilterLogEvents({ events: [{ message: '{"kind":"Event"}' }] });
    expect(noGroup.items[0]).toMatchObject({ ok: true, origin: {} });
  });
});

describe('Firehose HTTP endpoint delivery', () => {
  it('decodes every record (base64 → gzip → subscription payload) into audit events', () => {
    const delivery = eksAuditFromFirehose(firehose);
    expect(delivery).toMatchObject({ ok: true, requestId: 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f' });
    if (!delivery.ok) return;
    const expected = audit.logEvents.length + (controlPlane.logEvents as unknown[]).length;
    expect(delivery.batch.items).toHaveLength(expected);
    expect(delivery.batch.items.every((i) => i.ok)).toBe(true);
    // The control message and the authenticator stream's two lines.
    expect(delivery.batch.ignored).toBe(3);
    expect(delivery.batch.items[0]!.where).toBe('records[1].logEvents[0]');
  });

  it('rejects a record with broken base64 or gzip alone; the others go through', () => {
    const good = firehose.records[1]!;
    const truncated = Buffer.from(String(good.data), 'base64').subarray(0, 40).toString('base64');
    const body = variant(firehose, (f) => {
      f.records = [good, { data: 'not*base64' }, { data: truncated }, { nodata: true }, good];
    });
    const delivery = eksAuditFromFirehose(body);
    if (!delivery.ok) throw new Error(delivery.reason);
    const rejected = delivery.batch.items.filter((i) => !i.ok);
    expect(rejected).toEqual([
      { ok: false, reason: 'data: invalid base64: unexpected character', where: 'records[1]' },
      { ok: false, reason: expect.stringMatching(/^invalid gzip/), where: 'records[2]' },
      { ok: false, reason: 'missing data', where: 'records[3]' },
    ]);
    expect(delivery.batch.items.filter((i) => i.ok)).toHaveLength(2 * audit.logEvents.length);
  });

  it('bounds inflating across the whole request, not per record', () => {
    const record = { data: gzipSync(Buffer.from(JSON.stringify(audit))).toString('base64') };
    const size = Buffer.byteLength(JSON.stringify(audit));
    const body = { ...firehose, records: [record, record, record] };
    const delivery = eksAuditFromFirehose(body, {
      maxEventBytes: 1 << 20,
      maxInflatedBytes: Math.floor(size * 2.5),
    });
    if (!delivery.ok) throw new Error(delivery.reason);
    const reasons = delivery.batch.items.filter((i) => !i.ok);
    expect(reasons).toEqual([{ ok: false, reason: 'decompressed size over the limit', where: 'records[2]' }]);
  });

  it('refuses a body that is not a Firehose request, keeping its requestId when it has one', () => {
    expect(eksAuditFromFirehose({ requestId: 'r-1', records: 'x' })).toMatchObject({
      ok: false,
      requestId: 'r-1',
    });
    const none = eksAuditFromFirehose([1, 2]);
    expect(none.ok).toBe(false);
    expect('requestId' in none).toBe(false);
    expect(firehoseRequestId(firehose)).toBe('ed4acda5-034f-9f42-bba1-f29aea6d7d8f');
    expect(firehoseRequestId({ requestId: '' })).toBeUndefined();
  });

  it('answers in the exact shapes Firehose expects', () => {
    const ok = firehoseSuccess('ed4acda5-034f-9f42-bba1-f29aea6d7d8f', 1741701920123.7);
    expect(ok).toEqual({ requestId: 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f', timestamp: 1741701920123 });
    expect(Object.keys(ok)).toEqual(['requestId', 'timestamp']);
    expect(FirehoseResponse.strict().safeParse(ok).success).toBe(true);
    const err = firehoseError('r-2', 1741701920123, 'x'.repeat(5000));
    expect(Object.keys(err)).toEqual(['requestId', 'timestamp', 'errorMessage']);
    expect(err.errorMessage).toHaveLength(1024);
    expect(FirehoseErrorResponse.strict().safeParse(err).success).toBe(true);
  });
});
