// The eventhubs source's pure parts: its settings, decoding a message, deciding each record's cluster, and the
// kafkajs configuration it signs in with. The source itself runs against the real Kafka SASL listeners in
// test/integration/source-eventhubs.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.ts';
import {
  CONNECTION_STRING_USER,
  describeProblem,
  kafkaConfig,
  readSecrets,
} from '../../../src/sources/eventhubs-client.ts';
import {
  type ClusterPolicy,
  clusterFor,
  type DecodedMessage,
  decodeMessage,
  planBatches,
  rejectReason,
} from '../../../src/sources/eventhubs-records.ts';
import { EventHubsSourceSettings } from '../../../src/sources/eventhubs-settings.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';
import { fixtureJson, variant } from '../cloud/fixtures.ts';

type Json = Record<string, unknown>;
const message = fixtureJson('aks/eventhub-message.json') as { records: Json[] };
const LIMITS = { maxMessageBytes: 4 * 1024 * 1024, maxEventBytes: 256 * 1024 };
const logger = createLogger('silent');

const resourceId = (cluster: string) =>
  `/SUBSCRIPTIONS/0B6CB75E-8BB1-426B-8C7E-ACD7C6599495/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/${cluster}`;

function settings(extra: Json): EventHubsSourceSettings {
  return EventHubsSourceSettings.parse({
    type: 'eventhubs',
    brokers: ['acme-logs.servicebus.windows.net:9093'],
    topic: 'insights-logs-kube-audit',
    ...extra,
  });
}

function decoded(value: unknown, where = '0@0'): DecodedMessage {
  return decodeMessage(where, Buffer.from(JSON.stringify(value)), LIMITS);
}

describe('eventhubs settings', () => {
  it('takes the issue example and fills the defaults', () => {
    expect(
      settings({ connectionStringFile: '/var/run/secrets/klaxon/eventhub', cluster: 'prod-weu' }),
    ).toEqual({
      type: 'eventhubs',
      brokers: ['acme-logs.servicebus.windows.net:9093'],
      topic: 'insights-logs-kube-audit',
      connectionStringFile: '/var/run/secrets/klaxon/eventhub',
      cluster: 'prod-weu',
      startAt: 'latest',
      maxBatchMessages: 100,
      maxBatchBytes: 16 * 1024 * 1024,
      maxMessageBytes: 4 * 1024 * 1024,
      sessionTimeoutMs: 30_000,
    });
  });

  it('requires cluster or allowedClusters: the payload names its cluster, anyone who can send writes it', () => {
    const result = SourcesSettings.safeParse({
      aks: { type: 'eventhubs', brokers: ['a:9093'], topic: 'insights-logs-kube-audit' },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['aks', 'cluster'],
        message: expect.stringMatching(/allowedClusters/),
      }),
    ]);
    expect(settings({ allowedClusters: ['Prod-WEU', 'staging'] }).allowedClusters).toEqual([
      'prod-weu',
      'staging',
    ]);
  });

  it('refuses unknown keys, bad brokers, topics and cluster names, an inline secret, and a CA without TLS', () => {
    const bad: [Json, string][] = [
      [{ cluster: 'c', connectionString: 'Endpoint=sb://x' }, 'Unrecognized key'],
      [{ cluster: 'c', brokers: ['https://acme.servicebus.windows.net'] }, 'host:port'],
      [{ cluster: 'c', topic: 'a topic' }, 'letters'],
      [{ cluster: 'prod/weu' }, 'cluster names'],
      [{ allowedClusters: [] }, '>=1'],
      [{ cluster: 'c', tls: false, caFile: '/ca.pem' }, 'caFile needs tls'],
    ];
    for (const [extra, message] of bad) {
      const result = SourcesSettings.safeParse({
        aks: { type: 'eventhubs', brokers: ['a:9093'], topic: 't', ...extra },
      });
      expect(result.success, JSON.stringify(extra)).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toContain(message);
    }
  });
});

describe('decodeMessage', () => {
  it('gives the records of a diagnostic-logs document, with where they are', () => {
    const d = decoded(message, '3@42');
    expect(d.where).toBe('3@42');
    expect(d.batch.ignored).toBe(2);
    expect(d.batch.items.filter((i) => i.ok)).toHaveLength(message.records.length - 3);
    expect(d.bytes).toBe(Buffer.byteLength(JSON.stringify(message)));
  });

  it('refuses an empty value, one over the size limit, and gzip that inflates past it (a bomb)', () => {
    const small = { ...LIMITS, maxMessageBytes: 64 * 1024 };
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    const cases: [Uint8Array | null, RegExp][] = [
      [null, /empty message/],
      [Buffer.alloc(0), /empty message/],
      [Buffer.alloc(70 * 1024, 0x20), /message of 71680 bytes, over the limit of 65536 bytes/],
      [bomb, /decompressed size over the limit/],
    ];
    for (const [value, reason] of cases) {
      const d = decodeMessage('0@1', value, small);
      expect(d.batch.items).toEqual([{ ok: false, reason: expect.stringMatching(reason), where: '' }]);
      expect(d.bytes).toBe(0);
    }
  });

  it('reads a gzip-compressed document (a relay that compresses values), budgeting its inflated size', () => {
    const raw = Buffer.from(JSON.stringify(message));
    const d = decodeMessage('0@1', gzipSync(raw), LIMITS);
    expect(d.batch.items.filter((i) => i.ok)).toHaveLength(message.records.length - 3);
    expect(d.bytes).toBe(raw.length);
  });

  it('never throws, and accounts for every record, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const d = decodeMessage('0@0', bytes, LIMITS);
        expect(d.batch.items.length + d.batch.ignored).toBeGreaterThan(0);
      }),
    );
  });
});

describe('clusterFor', () => {
  const origin = (name?: string) => ({
    category: 'kube-audit',
    ...(name ? { cluster: { name } } : {}),
  });

  it('files every event under the configured cluster, whatever the record names', () => {
    expect(clusterFor(origin('evil'), { cluster: 'prod' })).toEqual({ cluster: 'prod' });
    expect(clusterFor(origin(), { cluster: 'prod' })).toEqual({ cluster: 'prod' });
  });

  it('believes a record only about the clusters allowed, and refuses one that names none', () => {
    const allowed = new Set(['prod-weu', 'staging-weu']);
    expect(clusterFor(origin('staging-weu'), { allowed })).toEqual({ cluster: 'staging-weu' });
    expect(clusterFor(origin('prod-weu'), { allowed, cluster: 'prod' })).toEqual({ cluster: 'prod' });
    expect(clusterFor(origin('other'), { allowed })).toEqual({
      reason: 'cluster "other" is not in allowedClusters',
    });
    expect(clusterFor(origin(), { allowed, cluster: 'prod' })).toEqual({
      reason: 'the record names no managed cluster (resourceId)',
    });
  });
});

describe('planBatches', () => {
  it('rejects the broken record and goes on with the others of the same message; other categories are ignored', () => {
    const plan = planBatches([decoded(message, '0@7')], { cluster: 'prod-weu' });
    expect(plan.ignored).toBe(2);
    expect(plan.rejected).toEqual([
      {
        where: '0@7 records[7]',
        reason: 'json',
        text: expect.stringMatching(/^properties\.log: invalid JSON/),
      },
    ]);
    expect(plan.batches).toHaveLength(1);
    const [batch] = plan.batches;
    expect(batch!.cluster).toBe('prod-weu');
    expect(batch!.items).toHaveLength(message.records.length - 3);
    expect(batch!.items.map((i) => i.index)).toEqual(batch!.items.map((_, n) => n));
    expect(batch!.where[0]).toBe('0@7 records[0]');
    expect((batch!.items[0] as { raw: Json }).raw).toMatchObject({ kind: 'Event', verb: 'create' });
  });

  it('splits one hub shared by allowed clusters into one batch each, and refuses a cluster not allowed', () => {
    const doc = {
      records: [
        variant(message.records[0]!, (r) => (r.resourceId = resourceId('PROD-WEU'))),
        variant(message.records[1]!, (r) => (r.resourceId = resourceId('STAGING-WEU'))),
        variant(message.records[2]!, (r) => (r.resourceId = resourceId('SOMEONE-ELSE'))),
        variant(message.records[4]!, (r) => (r.resourceId = resourceId('prod-weu'))),
      ],
    };
    const plan = planBatches([decoded(doc)], { allowed: new Set(['prod-weu', 'staging-weu']) });
    expect(plan.batches.map((b) => [b.cluster, b.items.length])).toEqual([
      ['prod-weu', 2],
      ['staging-weu', 1],
    ]);
    expect(plan.rejected).toEqual([
      { where: '0@0 records[2]', reason: 'auth', text: 'cluster "someone-else" is not in allowedClusters' },
    ]);
  });

  it('accounts for every record once, keeps their order, and files events only under clusters the policy allows', () => {
    const names = ['prod-weu', 'staging-weu', 'other', undefined] as const;
    const record = fc.record({
      cluster: fc.constantFrom(...names),
      kind: fc.constantFrom('good', 'broken', 'other-category'),
    });
    const policies: ClusterPolicy[] = [
      { cluster: 'prod' },
      { allowed: new Set(['prod-weu', 'staging-weu']) },
      { cluster: 'prod', allowed: new Set(['prod-weu']) },
    ];
    fc.assert(
      fc.property(
        fc.array(fc.array(record, { maxLength: 12 }), { maxLength: 6 }),
        fc.constantFrom(...policies),
        (messages, policy) => {
          let serial = 0;
          const input = messages.map((records, m) =>
            decoded(
              {
                records: records.map((r) => {
                  serial++;
                  const base = variant(message.records[0]!, (x) => {
                    if (r.cluster === undefined) delete x.resourceId;
                    else x.resourceId = resourceId(r.cluster.toUpperCase());
                    const props = x.properties as Json;
                    props.log = JSON.stringify({ ...JSON.parse(String(props.log)), auditID: `a-${serial}` });
                  });
                  if (r.kind === 'broken') (base.properties as Json).log = '{"kind":';
                  if (r.kind === 'other-category') base.category = 'kube-apiserver';
                  return base;
                }),
              },
              `0@${m}`,
            ),
          );
          const plan = planBatches(input, policy);
          const total = messages.flat().length;
          const read = plan.batches.reduce((n, b) => n + b.items.length, 0);
          expect(read + plan.rejected.length + plan.ignored).toBe(total);
          expect(plan.ignored).toBe(messages.flat().filter((r) => r.kind === 'other-category').length);
          for (const batch of plan.batches) {
            if (policy.cluster) expect(batch.cluster).toBe(policy.cluster);
            else expect(policy.allowed?.has(batch.cluster)).toBe(true);
            const ids = batch.items.map((i) => Number(String((i as { raw: Json }).raw.auditID).slice(2)));
            expect(ids).toEqual([...ids].sort((a, b) => a - b));
          }
        },
      ),
    );
  });

  it('names a small fixed reason for each kind of refusal', () => {
    expect(rejectReason('audit event larger than 100 bytes')).toBe('too_large');
    expect(rejectReason('message of 9 bytes, over the limit of 1 bytes')).toBe('too_large');
    expect(rejectReason('decompressed size over the limit')).toBe('too_large');
    expect(rejectReason('properties.log: invalid JSON: x')).toBe('json');
    expect(rejectReason('empty message')).toBe('json');
    expect(rejectReason('missing properties.log')).toBe('schema');
  });
});

describe('the kafkajs client of the source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-eventhubs-'));
  const secret =
    'Endpoint=sb://acme-logs.servicebus.windows.net/;SharedAccessKeyName=klaxon-listen;SharedAccessKey=c2VjcmV0LWtleS1mb3ItdGVzdHM=';
  const file = join(dir, 'eventhub');
  writeFileSync(file, `${secret}\n`);
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

  it('signs in as Event Hubs asks: SASL PLAIN, $ConnectionString, the connection string from its file, over TLS', async () => {
    const config = settings({ connectionStringFile: file, cluster: 'prod' });
    const secrets = await readSecrets(config);
    const kafka = kafkaConfig(config, secrets, logger);
    expect(kafka.sasl).toEqual({ mechanism: 'plain', username: CONNECTION_STRING_USER, password: secret });
    expect(CONNECTION_STRING_USER).toBe('$ConnectionString');
    expect(kafka.ssl).toBe(true);
    expect(kafka.brokers).toEqual(['acme-logs.servicebus.windows.net:9093']);
    expect(kafka.requestTimeout).toBeGreaterThanOrEqual(60_000);
  });

  it('trusts only the CA file when one is named; reads a plain Kafka topic with neither SASL nor TLS', async () => {
    const withCa = settings({ connectionStringFile: file, caFile: join(dir, 'ca.pem'), cluster: 'c' });
    expect(kafkaConfig(withCa, await readSecrets(withCa), logger).ssl).toEqual({
      ca: [expect.stringContaining('BEGIN CERTIFICATE')],
    });
    const plain = settings({ cluster: 'c' });
    const kafka = kafkaConfig(plain, await readSecrets(plain), logger);
    expect(kafka.sasl).toBeUndefined();
    expect(kafka.ssl).toBe(false);
    const saslPlaintext = settings({ connectionStringFile: file, tls: false, cluster: 'c' });
    expect(kafkaConfig(saslPlaintext, await readSecrets(saslPlaintext), logger).ssl).toBe(false);
  });

  it('says which file cannot be read, or is empty, without its content', async () => {
    const missing = settings({ connectionStringFile: join(dir, 'nope'), cluster: 'c' });
    await expect(readSecrets(missing)).rejects.toThrow(/cannot read connectionStringFile .*nope: ENOENT/);
    writeFileSync(join(dir, 'empty'), '\n');
    await expect(
      readSecrets(settings({ connectionStringFile: join(dir, 'empty'), cluster: 'c' })),
    ).rejects.toThrow(/connectionStringFile .*empty is empty/);
  });

  it('describes a refused sign-in by the file to check, and never quotes the connection string', async () => {
    const config = settings({ connectionStringFile: file, cluster: 'c' });
    const secrets = await readSecrets(config);
    const refused = Object.assign(
      new Error('SASL PLAIN authentication failed: Invalid username or password'),
      {
        name: 'KafkaJSSASLAuthenticationError',
      },
    );
    expect(describeProblem(refused, config, secrets)).toBe(
      `the brokers refused the connection string of connectionStringFile ${file} (SASL PLAIN as $ConnectionString): SASL PLAIN authentication failed: Invalid username or password`,
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        const text = describeProblem(new Error(`${before}${secret}${after}`), config, secrets);
        expect(text).not.toContain(secret);
      }),
    );
  });
});
