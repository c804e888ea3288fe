import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeFlow, parseFlowRecord } from '../../../src/normalize/flow.ts';
import { compileFlowFilter, FlowFilterOptions } from '../../../src/normalize/flow-filter.ts';
import { dropMetricLabels } from '../../../src/normalize/flow-metric-labels.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';
import { parseHubbleText } from '../../../src/sources/hubble.ts';

const ctx = { cluster: 'c', receivedAt: '2026-11-30T12:00:00Z' };
const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const filter = compileFlowFilter(FlowFilterOptions.parse({}));

/** Every record of every fixture: the shapes mutations start from. */
const fixtures: Record<string, unknown>[] = [
  'drop-networkpolicy.jsonl',
  'drop-ciliumnetworkpolicy.jsonl',
  'audit-verdict.jsonl',
  'observe-ipv6.jsonl',
  'reply-flows.jsonl',
  'no-kubernetes-endpoint.jsonl',
  'l7-dns-http.jsonl',
  'lost-events.jsonl',
  'camelcase-names.jsonl',
].flatMap((file) =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>),
);

const flowKey = fc.constantFrom(
  'flow',
  'verdict',
  'drop_reason',
  'drop_reason_desc',
  'IP',
  'l4',
  'TCP',
  'UDP',
  'ICMPv6',
  'source',
  'destination',
  'source_port',
  'destination_port',
  'flags',
  'labels',
  'pod_name',
  'namespace',
  'workloads',
  'identity',
  'Type',
  'l7',
  'dns',
  'http',
  'headers',
  'url',
  'time',
  'node_name',
  'traffic_direction',
  'is_reply',
  'egress_denied_by',
  'ingress_denied_by',
  'lost_events',
  'podName',
  'dropReasonDesc',
  '__proto__',
  'constructor',
);

const anyValue = fc.anything({
  key: fc.oneof(fc.string(), flowKey),
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withSparseArray: true,
  maxDepth: 4,
});

/** Replaces the value at a random path of a fixture with something arbitrary. */
function mutate(base: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || base === null || typeof base !== 'object') return value;
  const [step, ...rest] = path as [number, ...number[]];
  if (Array.isArray(base)) {
    if (base.length === 0) return value;
    const copy = base.slice();
    const i = step % base.length;
    copy[i] = mutate(base[i], rest, value);
    return copy;
  }
  const keys = Object.keys(base);
  if (keys.length === 0) return value;
  const key = keys[step % keys.length]!;
  return {
    ...(base as Record<string, unknown>),
    [key]: mutate((base as Record<string, unknown>)[key], rest, value),
  };
}

/** Never throws; a JSON input gives an event that meets the contract, or a reason. */
function expectSound(raw: unknown, json: boolean): void {
  const result = normalizeFlow(raw, ctx);
  if (result.ok && json) {
    expect(NormalizedEvent.safeParse(JSON.parse(JSON.stringify(result.event))).success).toBe(true);
    expect(result.event.orchestrator.cluster.name).toBe('c');
  } else if (!result.ok) {
    expect(typeof result.reason).toBe('string');
    expect(result.reason.length).toBeGreaterThan(0);
  }
  const parsed = parseFlowRecord(raw);
  if (parsed.ok) {
    const decision = filter(parsed.record.flow);
    expect(typeof decision.publish).toBe('boolean');
    expect(['ingress', 'egress', 'unknown']).toContain(
      dropMetricLabels(parsed.record.flow, new Set(['data'])).direction,
    );
  }
}

describe('hostile flows', () => {
  it('nothing it is given makes the normalizer, the filter or the metric labels throw', () => {
    fc.assert(
      fc.property(anyValue, (raw) => expectSound(raw, false)),
      { numRuns: 2000 },
    );
  });

  it('real records with any part replaced by anything never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        anyValue,
        (base, path, value) => expectSound(mutate(base, path, value), false),
      ),
      { numRuns: 2000 },
    );
  });

  it('real records with any part replaced by any JSON give an event that meets the contract, or a reason', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.jsonValue({ maxDepth: 4 }),
        (base, path, value) => expectSound(JSON.parse(JSON.stringify(mutate(base, path, value))), true),
      ),
      { numRuns: 3000 },
    );
  });

  it('__proto__ and constructor keys are data, never prototypes', () => {
    const raw = JSON.parse(
      '{"flow":{"__proto__":{"polluted":"yes"},"time":"2026-11-30T09:00:00Z","verdict":"DROPPED","dropReasonDesc":"POLICY_DENIED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"source":{"podName":"p","__proto__":{"namespace":"x"}}},"nodeName":"n","__proto__":{"flow":1}}',
    ) as unknown;
    const result = normalizeFlow(raw, ctx);
    if (!result.ok) throw new Error(result.reason);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(result.event.source).toEqual({ ip: '10.0.0.1', pod: 'p', workload: { name: 'p', kind: 'Pod' } });
    expect(Object.getPrototypeOf(result.event.hubble?.flow)).toBe(Object.prototype);
    expect(Object.hasOwn(result.event.hubble!.flow, '__proto__')).toBe(true);
  });

  it('an authorization header never leaves the normalizer, whatever its case or the other headers', () => {
    const [http] = fixtures.filter((r) => JSON.stringify(r).includes('"authorization"'));
    fc.assert(
      fc.property(
        fc.constantFrom(
          'authorization',
          'Authorization',
          'AUTHORIZATION',
          'cookie',
          'X-Api-Key',
          'proxy-authorization',
        ),
        fc.stringMatching(/^[A-Za-z0-9._~+/=-]{12,80}$/),
        fc.array(fc.record({ key: fc.string(), value: fc.string() }), { maxLength: 5 }),
        (key, secret, others) => {
          const record = http as { flow: { l7: { http: Record<string, unknown> } } };
          const raw = {
            ...record,
            flow: {
              ...record.flow,
              l7: {
                ...record.flow.l7,
                http: { ...record.flow.l7.http, headers: [...others, { key, value: secret }] },
              },
            },
          };
          const result = normalizeFlow(raw, ctx);
          if (!result.ok) throw new Error(result.reason);
          const headers = (
            result.event.hubble!.flow.l7 as { http: { headers: { key: string; value: string }[] } }
          ).http.headers;
          expect(headers.at(-1)).toEqual({ key, value: '[REDACTED]' });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any text gives items or a reason, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.array(fc.json()).map((a) => a.join('\n')),
        ),
        (text) => {
          const parsed = parseHubbleText(text);
          if ('error' in parsed) expect(parsed.error.length).toBeGreaterThan(0);
          else for (const item of parsed.items) expectSound('raw' in item ? item.raw : undefined, true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
