import { describe, expect, it } from 'vitest';
import {
  aksAuditFromJson,
  aksAuditFromMessage,
  aksClusterFromResourceId,
} from '../../../src/normalize/aks.ts';
import { normalizeAudit } from '../../../src/normalize/index.ts';
import { fixtureJson, fixtureLines, variant } from './fixtures.ts';

type Json = Record<string, unknown>;
const message = fixtureJson('aks/eventhub-message.json') as { records: Json[] };

describe('AKS diagnostic logs → audit Events', () => {
  it('unwraps every kube-audit record, ignores other categories and rejects the broken record alone', () => {
    const batch = aksAuditFromJson(message);
    const rejected = batch.items.filter((i) => !i.ok);
    expect(batch.ignored).toBe(2);
    expect(rejected).toEqual([
      { ok: false, reason: expect.stringMatching(/^properties\.log: invalid JSON/), where: 'records[7]' },
    ]);
    expect(batch.items.filter((i) => i.ok)).toHaveLength(message.records.length - 3);
  });

  it('gives the API server event as it wrote it, and the cluster and pod the record names', () => {
    const first = aksAuditFromJson(message).items[0]!;
    expect(first).toMatchObject({
      ok: true,
      where: 'records[0]',
      origin: {
        category: 'kube-audit',
        pod: 'kube-apiserver-7d5c9b8f6d-q4hxz',
        cluster: {
          name: 'prod-weu',
          resourceGroup: 'rg-prod-weu',
          subscriptionId: '0b6cb75e-8bb1-426b-8c7e-acd7c6599495',
        },
      },
      event: {
        kind: 'Event',
        verb: 'create',
        user: { username: 'alice@example.com', extra: { oid: ['6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f'] } },
        objectRef: { resource: 'pods', namespace: 'shop', name: 'debug-tools' },
      },
    });
  });

  it('reads the storage archive PT1H.json line by line (kube-audit-admin records)', () => {
    const lines = fixtureLines('aks/PT1H.json');
    const batches = lines.map((l) => aksAuditFromJson(l));
    expect(batches.every((b) => b.items.length === 1 && b.items[0]!.ok)).toBe(true);
    expect(batches[0]!.items[0]).toMatchObject({ where: '', origin: { category: 'kube-audit-admin' } });
  });

  it('reads an Event Hubs message from its bytes', () => {
    const batch = aksAuditFromMessage(Buffer.from(JSON.stringify(message)));
    expect(batch.items.filter((i) => i.ok)).toHaveLength(message.records.length - 3);
    expect(aksAuditFromMessage(Buffer.from('{"records": [')).items).toEqual([
      { ok: false, reason: expect.stringMatching(/invalid JSON/), where: '' },
    ]);
  });

  it('rejects a record whose log is missing, over the size limit or not an object; a document without records is one rejection', () => {
    const record = message.records[0]!;
    const cases: [Json, RegExp][] = [
      [variant(record, (r) => delete (r.properties as Json).log), /missing properties.log/],
      [variant(record, (r) => ((r.properties as Json).log = '[1,2]')), /expected an audit Event object/],
      [variant(record, (r) => delete r.category), /category/],
    ];
    for (const [bad, reason] of cases) {
      expect(aksAuditFromJson(bad).items).toEqual([
        { ok: false, reason: expect.stringMatching(reason), where: '' },
      ]);
    }
    const big = aksAuditFromJson(record, { maxEventBytes: 100, maxInflatedBytes: 1 << 20 });
    expect(big.items[0]).toMatchObject({ ok: false, reason: 'audit event larger than 100 bytes' });
    expect(aksAuditFromJson({ records: 'no' }).items[0]).toMatchObject({ ok: false, where: '' });
  });

  it('takes the cluster name from resourceId whatever its case, and nothing from another resource type', () => {
    expect(
      aksClusterFromResourceId(
        '/subscriptions/0b6cb75e-8bb1-426b-8c7e-acd7c6599495/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/Prod-WEU',
      ),
    ).toEqual({
      name: 'prod-weu',
      resourceGroup: 'rg-prod',
      subscriptionId: '0b6cb75e-8bb1-426b-8c7e-acd7c6599495',
    });
    expect(
      aksClusterFromResourceId('/SUBSCRIPTIONS/X/RESOURCEGROUPS/Y/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/Z'),
    ).toBeUndefined();
    const noId = aksAuditFromJson(variant(message.records[0]!, (r) => delete r.resourceId));
    const item = noId.items[0]!;
    expect(item.ok && item.origin.cluster).toBeUndefined();
    expect(item.ok).toBe(true);
  });

  it('gives events the audit normalizer accepts, with the Entra object id in related.user', () => {
    const first = aksAuditFromJson(message).items[0]!;
    if (!first.ok) throw new Error(first.reason);
    const result = normalizeAudit(first.event, { cluster: 'prod-weu' });
    expect(result.ok && result.event.related?.user).toEqual([
      'alice@example.com',
      '6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f',
    ]);
  });
});
