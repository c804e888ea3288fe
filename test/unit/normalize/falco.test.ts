import { describe, expect, it } from 'vitest';
import { normalizeFalco } from '../../../src/normalize/falco.ts';
import { isFalcoShaped, normalizeAny } from '../../../src/normalize/index.ts';
import { parseFalcoBody } from '../../../src/schema/falco.ts';

const ctx = { cluster: 'edge-1', receivedAt: '2024-05-02T09:14:05.000Z' };

const shellInContainer = {
  uuid: '0c9f4ad4-5d0b-4d5b-9d1b-6b0a8e3b2f10',
  output:
    '09:14:04.731904529: Notice A shell was spawned in a container with an attached terminal (user=root user_loginuid=-1 k8s.ns=shop k8s.pod=web-7f9c8 container=3f1a2b4c5d6e shell=bash parent=runc cmdline=bash terminal=34816 container_id=3f1a2b4c5d6e image=ghcr.io/acme/web)',
  priority: 'Notice',
  rule: 'Terminal shell in container',
  time: '2024-05-02T09:14:04.731904529Z',
  source: 'syscall',
  hostname: 'ip-10-0-3-21',
  tags: ['container', 'mitre_execution', 'shell', ''],
  output_fields: {
    // Falco writes nanosecond integers beyond 2^53; JSON.parse rounds them, as it does in ingest.
    ...(JSON.parse('{"evt.time": 1714641244731904529}') as Record<string, number>),
    'container.id': '3f1a2b4c5d6e',
    'container.image.repository': 'ghcr.io/acme/web',
    'container.image.tag': '1.4.2',
    'k8s.ns.name': 'shop',
    'k8s.pod.name': 'web-7f9c8',
    'proc.cmdline': 'bash',
    'proc.aname[2]': 'containerd-shim',
    'proc.tty': 34816,
    'user.loginuid': -1,
    'user.name': 'root',
    'fd.name': null,
  },
};

function ok(raw: unknown) {
  const result = normalizeAny(raw, ctx);
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

describe('Falco normalizer', () => {
  it('maps a syscall alert with Kubernetes metadata', () => {
    expect(ok(shellInContainer)).toMatchObject({
      '@timestamp': '2024-05-02T09:14:04.731904529Z',
      event: {
        kind: 'event',
        dataset: 'falco',
        action: 'Terminal shell in container',
        id: shellInContainer.uuid,
        ingested: ctx.receivedAt,
      },
      user: { name: 'root' },
      orchestrator: {
        type: 'kubernetes',
        cluster: { name: 'edge-1' },
        namespace: 'shop',
        resource: { type: 'pods', name: 'web-7f9c8' },
      },
      container: { id: '3f1a2b4c5d6e', image: { name: 'ghcr.io/acme/web:1.4.2' } },
      host: { hostname: 'ip-10-0-3-21' },
      falco: shellInContainer,
    });
  });

  it('maps a k8s_audit-sourced alert from its ka.* fields', () => {
    const event = ok({
      output: 'Warning K8s Secret Get Successfully (user=mallory secret=db-creds ns=payments)',
      priority: 'Warning',
      rule: 'K8s Secret Get Successfully',
      source: 'k8s_audit',
      time: '2024-05-02T09:14:04.1Z',
      output_fields: {
        'ka.user.name': 'mallory',
        'ka.target.namespace': 'payments',
        'ka.target.resource': 'secrets',
        'ka.target.name': 'db-creds',
        'ka.response.code': '200',
        'ka.sourceips': ['203.0.113.7'],
        'ka.useragent': 'curl/8.5.0',
      },
    });
    expect(event).toMatchObject({
      user: { name: 'mallory' },
      source: { ip: '203.0.113.7' },
      user_agent: { original: 'curl/8.5.0' },
      event: { outcome: 'success' },
      orchestrator: { namespace: 'payments', resource: { type: 'secrets', name: 'db-creds' } },
    });
    expect(event.host).toBeUndefined();
  });

  it('takes the time from evt.time.iso8601 nanoseconds when `time` is missing', () => {
    const { time: _time, ...noTime } = shellInContainer;
    const event = ok({ ...noTime, output_fields: JSON.parse('{"evt.time.iso8601": 1470327477881781397}') });
    expect(event['@timestamp']).toMatch(/^2016-08-04T16:17:57\.8817\d{5}Z$/);
    expect(normalizeFalco({ ...noTime, output_fields: {} }, { cluster: 'c' })).toEqual({
      ok: false,
      reason: 'missing or invalid time',
    });
  });

  it('accepts any case of the priority names, and Info', () => {
    for (const priority of ['WARNING', 'informational', 'Info', 'emergency', 'Debug']) {
      expect(normalizeAny({ ...shellInContainer, priority }, ctx).ok).toBe(true);
    }
  });

  it('hashes alerts without uuid by content, independent of key order', () => {
    const { uuid: _uuid, ...alert } = shellInContainer;
    const reordered = Object.fromEntries(Object.entries(alert).reverse());
    const a = ok(alert).event.id;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(reordered).event.id).toBe(a);
    expect(ok({ ...alert, output: `${alert.output}.` }).event.id).not.toBe(a);
  });

  it('is told from an audit event by shape', () => {
    expect(isFalcoShaped(shellInContainer)).toBe(true);
    expect(isFalcoShaped({ rule: 'x', auditID: 'y', verb: 'get' })).toBe(false);
    expect(isFalcoShaped({ kind: 'Event', verb: 'get' })).toBe(false);
    expect(normalizeAny({ rule: 'x', output: 'y' }, ctx)).toMatchObject({
      ok: false,
      reason: expect.any(String),
    });
  });

  it('rejects an alert without a rule', () => {
    const { rule: _rule, ...noRule } = shellInContainer;
    expect(normalizeFalco(noRule, ctx)).toEqual({ ok: false, reason: 'missing rule' });
  });
});

describe('parseFalcoBody', () => {
  it('reads one alert, pretty-printed or not', () => {
    expect(parseFalcoBody(JSON.stringify(shellInContainer, null, 2))).toEqual({
      items: [{ index: 0, raw: shellInContainer }],
    });
  });

  it('reads NDJSON; a broken line is a rejected item, not a rejected body', () => {
    const body = `${JSON.stringify(shellInContainer)}\n{"rule": broken\n\n${JSON.stringify({ rule: 'b' })}\n`;
    const parsed = parseFalcoBody(body);
    expect(
      'items' in parsed && parsed.items.map((item) => ('error' in item ? `error ${item.index}` : item.index)),
    ).toEqual([0, 'error 1', 2]);
  });

  it('rejects a body with no JSON in it', () => {
    expect(parseFalcoBody('')).toEqual({ error: 'empty body' });
    expect(parseFalcoBody('not json')).toHaveProperty('error');
    expect(parseFalcoBody('nope\nnot either')).toHaveProperty('error');
  });
});
