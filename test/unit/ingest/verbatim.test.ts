import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryBus } from '../../../src/bus/memory.ts';
import { auditDataset } from '../../../src/datasets/audit.ts';
import { auditEvent, bearer, eventList, makeApp, TOKENS, TOPIC } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(() => app?.close());

async function post(text: string | Buffer): Promise<{ bus: MemoryBus; values: Buffer[] }> {
  const made = await makeApp();
  app = made.app;
  const res = await app.inject({
    method: 'POST',
    url: '/v1/audit',
    headers: bearer(TOKENS.prod),
    payload: text,
  });
  expect(res.statusCode).toBe(200);
  const values = made.bus
    .read(TOPIC, 0, 1000)
    .map((m) => (typeof m.value === 'string' ? Buffer.from(m.value) : Buffer.from(m.value)));
  return { bus: made.bus, values };
}

/** What ingest published before it could reuse bytes: the normalized event of what JSON.parse kept. */
function serialized(item: unknown): unknown {
  const result = auditDataset.normalize(item, { cluster: 'prod', receivedAt: new Date().toISOString() });
  if (!result.ok) throw new Error(result.reason);
  const { event } = result;
  return { ...event, event: { ...event.event, ingested: expect.any(String) } };
}

const SECRET = 'c3VwZXJzZWNyZXQtdmFsdWU=';

describe('publishing an unchanged audit event as its own bytes', () => {
  it('puts the event exactly as received under kubernetes.audit, the rest from Klaxon', async () => {
    const items = [auditEvent(), auditEvent({ verb: 'get', userAgent: 'kubelet/v1.30 é☃' })];
    // Spaced out, so bytes reused are told apart from a serialization.
    const texts = items.map((i) => JSON.stringify(i, null, 1));
    const { values } = await post(
      `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${texts.join(',')}]}`,
    );
    expect(values).toHaveLength(2);
    values.forEach((value, i) => {
      expect(value.includes(`"kubernetes":{"audit":${texts[i]}}`)).toBe(true);
      expect(JSON.parse(value.toString('utf8'))).toEqual(serialized(items[i]));
    });
  });

  it('never carries a value hidden under a duplicate key: the bytes are not reused', async () => {
    const kept = auditEvent({
      verb: 'create',
      objectRef: { resource: 'secrets', namespace: 'default', name: 'db', apiVersion: 'v1' },
    });
    const base = JSON.stringify(kept).slice(0, -1);
    const hiddenSecret = `${base},"requestObject":{"kind":"Secret","data":{"password":"${SECRET}"}},"requestObject":{"kind":"Secret","metadata":{"name":"db"}}}`;
    const hiddenUser = JSON.stringify(auditEvent()).replace(
      '"user":{"username":"alice"',
      '"user":{"username":"system:admin-smuggled","username":"alice"',
    );
    expect(hiddenUser).toContain('smuggled');
    const { values } = await post(`[${hiddenSecret},${hiddenUser}]`);
    expect(values).toHaveLength(2);
    for (const value of values) {
      const text = value.toString('utf8');
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('smuggled');
    }
    expect(JSON.parse(values[0]!.toString('utf8'))).toEqual(serialized(JSON.parse(hiddenSecret)));
    expect(JSON.parse(values[1]!.toString('utf8'))).toEqual(serialized(JSON.parse(hiddenUser)));
  });

  it('serializes the redacted copy when redaction changed anything', async () => {
    const item = auditEvent({
      verb: 'create',
      objectRef: { resource: 'secrets', namespace: 'default', name: 'db', apiVersion: 'v1' },
      requestObject: { kind: 'Secret', apiVersion: 'v1', data: { password: SECRET } },
    });
    const leaky = auditEvent({
      requestURI: '/api/v1/namespaces/default/pods?access_token=abcdef0123456789secret',
    });
    const { values } = await post(JSON.stringify(eventList([item, leaky])));
    const texts = values.map((v) => v.toString('utf8'));
    expect(texts[0]).not.toContain(SECRET);
    expect(texts[1]).not.toContain('abcdef0123456789secret');
    expect(JSON.parse(texts[0]!)).toEqual(serialized(item));
    expect(JSON.parse(texts[1]!)).toEqual(serialized(leaky));
  });

  it('serializes when the body is not valid UTF-8 (the bytes would not be what was checked)', async () => {
    const item = auditEvent({ userAgent: 'agent-XY' });
    const bytes = Buffer.from(JSON.stringify([item]));
    const at = bytes.indexOf('XY');
    bytes[at] = 0xc0; // an overlong encoding of "/": JSON.parse sees U+FFFD, a lenient decoder "/"
    bytes[at + 1] = 0xaf;
    const { values } = await post(bytes);
    expect(values).toHaveLength(1);
    expect(values[0]!.includes(Buffer.from([0xc0, 0xaf]))).toBe(false);
    expect(JSON.parse(values[0]!.toString('utf8'))).toEqual(
      serialized(JSON.parse(bytes.toString('utf8'))[0]),
    );
  });
});

describe('spans of a single Event body', () => {
  it('are never taken from an items field inside the event', async () => {
    const item = auditEvent({ items: [{ a: 1 }], requestURI: '/api/v1/namespaces/default/pods' });
    const text = JSON.stringify(item, null, 1);
    const { values } = await post(text);
    expect(values).toHaveLength(1);
    expect(values[0]!.includes(`"audit":${JSON.stringify({ a: 1 }, null, 1)}}`)).toBe(false);
    expect(JSON.parse(values[0]!.toString('utf8'))).toEqual(serialized(item));
  });
});
