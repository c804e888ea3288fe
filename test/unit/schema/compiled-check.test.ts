import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuditEvent, isAuditEvent } from '../../../src/schema/audit.ts';
import { compiledCheck } from '../../../src/schema/compiled-check.ts';

const valid = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Metadata',
  auditID: 'a1',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods',
  verb: 'list',
  user: { username: 'alice', groups: ['system:authenticated'], extra: { x: ['y'] } },
  impersonatedUser: null,
  sourceIPs: ['10.0.0.1'],
  userAgent: 'kubectl',
  objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: '2024-01-01T00:00:00.000000Z',
  stageTimestamp: '2024-01-01T00:00:00.000000Z',
  annotations: { 'authorization.k8s.io/decision': 'allow' },
};

/** Values for the audit event's own fields: right types, wrong types, null, absent. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('', 'Event', 'EventList', 'audit.k8s.io/v1', 'audit.k8s.io/v2', 'ResponseComplete', 'Done'),
  fc.constantFrom(null, undefined, 0, -1, 1.5, [], {}, ['a', 1], { code: 'x' }, { username: 1 }),
);
const mangled = fc
  .dictionary(fc.constantFrom(...Object.keys(valid), ...Object.keys(AuditEvent.shape), 'other'), fieldValue, {
    maxKeys: 6,
  })
  .map((changes) => ({ ...valid, ...changes }));

describe('compiledCheck', () => {
  it('accepts a valid audit event and refuses what zod refuses', () => {
    expect(isAuditEvent(valid)).toBe(true);
    for (const bad of [
      {},
      { ...valid, verb: '' },
      { ...valid, stage: 'Done' },
      { ...valid, auditID: 1 },
      null,
      [],
    ]) {
      expect(isAuditEvent(bad)).toBe(false);
      expect(AuditEvent.safeParse(bad).success).toBe(false);
    }
  });

  it('agrees with the zod schema on mangled events (JSON values)', () => {
    fc.assert(
      fc.property(mangled, (event) => {
        expect(isAuditEvent(event)).toBe(AuditEvent.safeParse(event).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('never says valid where zod does not, whatever the value (non-JSON values included)', () => {
    const anything = fc.anything({
      key: fc.constantFrom(...Object.keys(AuditEvent.shape)),
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withNullPrototype: true,
      withSparseArray: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          anything,
          mangled.chain((e) => anything.map((v) => ({ ...e, user: v }))),
        ),
        (value) => {
          if (isAuditEvent(value)) expect(AuditEvent.safeParse(value).success).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
    expect(isAuditEvent({ ...valid, responseStatus: { code: Number.NaN } })).toBe(false);
  });

  it('refuses a schema with defaults (its parsed value would be more than its input)', () => {
    expect(() => compiledCheck(z.object({ a: z.string().default('x') }))).toThrow(/defaults/);
  });
});
