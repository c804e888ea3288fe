import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aksAuditFromJson, aksAuditFromMessage } from '../../../src/normalize/aks.ts';
import {
  decodeBase64,
  decodeJsonData,
  splitConcatenatedJson,
} from '../../../src/normalize/bounded-decode.ts';
import type { CloudBatch } from '../../../src/normalize/cloud-batch.ts';
import { unwrapCloudRecord } from '../../../src/normalize/cloud-record.ts';
import {
  eksAuditFromFilterLogEvents,
  eksAuditFromSubscription,
  eksAuditFromSubscriptionData,
} from '../../../src/normalize/cloudwatch.ts';
import { eksAuditFromFirehose } from '../../../src/normalize/firehose.ts';
import { gkeEntryToAudit } from '../../../src/normalize/gke.ts';
import { gkeAuditFromJson, gkeAuditFromMessageData } from '../../../src/normalize/gke-readers.ts';
import { normalizeAudit } from '../../../src/normalize/index.ts';
import { fixtureJson } from './fixtures.ts';

type Json = Record<string, unknown>;
const limits = { maxEventBytes: 64 * 1024, maxInflatedBytes: 1 << 20 };

/** A batch that keeps the contract: items with a boolean `ok`, an object event or a string reason, a count. */
function wellFormed(batch: CloudBatch<unknown>): void {
  expect(Number.isInteger(batch.ignored)).toBe(true);
  for (const item of batch.items) {
    expect(typeof item.where).toBe('string');
    if (item.ok)
      expect(item.event !== null && typeof item.event === 'object' && !Array.isArray(item.event)).toBe(true);
    else expect(typeof item.reason).toBe('string');
  }
}

const anything = fc.anything({
  key: fc.oneof(
    fc.string(),
    fc.constantFrom(
      '__proto__',
      'records',
      'category',
      'properties',
      'log',
      'logEvents',
      'messageType',
      'message',
      'data',
      'requestId',
      'events',
      'protoPayload',
      'resource',
      'methodName',
      'resourceName',
    ),
  ),
  maxDepth: 5,
  withNullPrototype: true,
  withSparseArray: true,
});

const FIXTURES: [string, Json][] = [
  ['GKE entry', (fixtureJson('gke/gcloud-logging-read.json') as Json[])[0]!],
  ['Pub/Sub push', fixtureJson('gke/pubsub-push.json') as Json],
  ['AKS message', fixtureJson('aks/eventhub-message.json') as Json],
  ['CloudWatch payload', fixtureJson('eks/subscription-audit.json') as Json],
  ['Firehose request', fixtureJson('eks/firehose-request.json') as Json],
  ['filter-log-events', fixtureJson('eks/filter-log-events.json') as Json],
];

/** Every object and array inside a value, as paths (for replacing one of them). */
function paths(
  value: unknown,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      paths(v, [...at, i], out);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  }
  return out;
}

function replaced(value: Json, path: (string | number)[], by: unknown): unknown {
  if (path.length === 0) return by;
  const copy = structuredClone(value);
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = by;
  return copy;
}

describe('hostile cloud deliveries: every converter answers, none throws', () => {
  it('arbitrary values', () => {
    fc.assert(
      fc.property(anything, (raw) => {
        const unwrapped = unwrapCloudRecord(raw, limits);
        if (unwrapped) wellFormed(unwrapped.batch);
        expect(typeof gkeEntryToAudit(raw).ok).toBe('boolean');
        wellFormed(gkeAuditFromJson(raw, limits));
        wellFormed(aksAuditFromJson(raw, limits));
        wellFormed(eksAuditFromSubscription(raw, limits));
        wellFormed(eksAuditFromFilterLogEvents(raw, undefined, limits));
        const firehose = eksAuditFromFirehose(raw, limits);
        if (firehose.ok) wellFormed(firehose.batch);
      }),
      { numRuns: 1500 },
    );
  });

  it.each(FIXTURES)(
    'a real %s with any part replaced by arbitrary JSON; converted events normalize or are refused',
    (_what, fixture) => {
      const all = paths(fixture);
      fc.assert(
        fc.property(fc.constantFrom(...all), anything, (path, by) => {
          const unwrapped = unwrapCloudRecord(replaced(fixture, path, by), limits);
          if (!unwrapped) return;
          wellFormed(unwrapped.batch);
          for (const item of unwrapped.batch.items) {
            if (item.ok) expect(typeof normalizeAudit(item.event, { cluster: 'c' }).ok).toBe('boolean');
          }
        }),
        { numRuns: 400 },
      );
    },
  );

  it('arbitrary bytes as a message, compressed or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (bytes, zip) => {
        const data = zip ? gzipSync(bytes) : bytes;
        wellFormed(eksAuditFromSubscriptionData(data, limits));
        wellFormed(aksAuditFromMessage(data, limits));
        wellFormed(gkeAuditFromMessageData(data, undefined, limits));
      }),
      { numRuns: 800 },
    );
  });

  it('truncated gzip of a real payload: the events, or one rejection', () => {
    const zipped = gzipSync(JSON.stringify(fixtureJson('eks/subscription-audit.json')));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: zipped.length - 1 }), (cut) => {
        const batch = eksAuditFromSubscriptionData(zipped.subarray(0, cut), limits);
        expect(batch.items).toEqual([{ ok: false, reason: expect.any(String), where: '' }]);
      }),
      { numRuns: 300 },
    );
  });

  it('wrong base64 in Firehose records and Pub/Sub pushes is a rejected item, never a wrong decode', () => {
    const firehose = fixtureJson('eks/firehose-request.json') as Json & { records: Json[] };
    const push = fixtureJson('gke/pubsub-push.json') as Json & { message: Json };
    const corrupt = fc
      .tuple(
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.constantFrom('*', '!', ' ', '\u00e9', '.', '\n', '%'),
      )
      .map(([s, bad]) => `${s.slice(0, 32)}${bad}${s.slice(32)}`);
    fc.assert(
      fc.property(corrupt, (data) => {
        const delivery = eksAuditFromFirehose({ ...firehose, records: [{ data }] }, limits);
        expect(delivery.ok && delivery.batch.items).toEqual([
          { ok: false, reason: expect.stringMatching(/^data: invalid base64/), where: 'records[0]' },
        ]);
        const batch = gkeAuditFromJson({ ...push, message: { ...push.message, data } }, limits);
        expect(batch.items).toEqual([
          { ok: false, reason: expect.stringMatching(/base64/), where: 'message.data' },
        ]);
      }),
      { numRuns: 300 },
    );
  });

  it('huge strings where messages, logs and names go are refused by size or converted, in one pass', () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const cw = fixtureJson('eks/subscription-audit.json') as Json & { logEvents: Json[] };
    const hugeMessage = eksAuditFromSubscription(
      { ...cw, logEvents: [{ ...cw.logEvents[0], message: big }] },
      limits,
    );
    expect(hugeMessage.items[0]).toMatchObject({ ok: false, reason: 'audit event larger than 65536 bytes' });
    const aks = fixtureJson('aks/eventhub-message.json') as { records: Json[] };
    const record = aks.records[0]!;
    const hugeLog = aksAuditFromJson(
      { ...record, properties: { ...(record.properties as Json), log: big } },
      limits,
    );
    expect(hugeLog.items[0]).toMatchObject({ ok: false, reason: 'audit event larger than 65536 bytes' });
    const entry = (fixtureJson('gke/gcloud-logging-read.json') as Json[])[0]!;
    const hugeName = gkeEntryToAudit({
      ...entry,
      protoPayload: { ...(entry.protoPayload as Json), resourceName: big },
    });
    expect(hugeName.ok).toBe(false);
    const hugeData = eksAuditFromFirehose({ requestId: 'r', timestamp: 1, records: [{ data: big }] }, limits);
    expect(hugeData.ok && hugeData.batch.items[0]).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/larger than/),
    });
  });
});

describe('bounded decoding', () => {
  it('base64 round-trips any bytes, standard and URL-safe', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const std = decodeBase64(Buffer.from(bytes).toString('base64'), 1024);
        expect(std.ok && [...std.value]).toEqual([...bytes]);
        const url = decodeBase64(Buffer.from(bytes).toString('base64url'), 1024, true);
        expect(url.ok && [...url.value]).toEqual([...bytes]);
      }),
    );
    expect(decodeBase64('aGVsbG8', 10)).toMatchObject({ ok: true });
    expect(decodeBase64('aGVsbG8=x', 10)).toMatchObject({ ok: false });
    expect(decodeBase64('a', 10)).toMatchObject({ ok: false, reason: 'invalid base64: wrong length' });
    expect(decodeBase64('aGVs_G8=', 10)).toMatchObject({ ok: false });
    expect(decodeBase64('aGVsbG8gd29ybGQ=', 4)).toMatchObject({
      ok: false,
      reason: 'decoded data larger than 4 bytes',
    });
    expect(decodeBase64(42, 4)).toMatchObject({ ok: false });
  });

  it('splits JSON values written back to back, and only those', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 5 }),
        (values) => {
          const parts = splitConcatenatedJson(values.map((v) => JSON.stringify(v)).join('\n'));
          expect(parts?.map((p) => JSON.parse(p))).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))));
        },
      ),
    );
    expect(splitConcatenatedJson('{"a":1} 7')).toBeUndefined();
    expect(splitConcatenatedJson('{"a":"}{"')).toBeUndefined();
    expect(splitConcatenatedJson('}{')).toBeUndefined();
  });

  it('decodes concatenated gzip payloads (Firehose batching) and refuses invalid UTF-8', () => {
    const two = Buffer.concat([gzipSync('{"a":1}'), gzipSync('{"b":2}')]);
    expect(decodeJsonData(two, { remaining: 1000 })).toEqual({ ok: true, value: [{ a: 1 }, { b: 2 }] });
    expect(decodeJsonData(Buffer.from([0x7b, 0xff, 0x7d]), { remaining: 1000 })).toEqual({
      ok: false,
      reason: 'invalid UTF-8',
    });
    const budget = { remaining: 10 };
    expect(decodeJsonData(gzipSync('{"long":"enough to pass ten bytes"}'), budget)).toEqual({
      ok: false,
      reason: 'decompressed size over the limit',
    });
  });
});
