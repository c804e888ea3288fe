import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures');
const ctx = { cluster: 'conformance', receivedAt: '2024-01-01T00:00:00.000Z' };

function jsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(join(FIXTURES, dir))
    .filter((name) => ext.test(name))
    .sort();
}

/** Normalizes, checks the contract, and proves the event survives a trip through JSON (the bus). */
function normalizeValid(raw: unknown): NormalizedEvent {
  const result = normalizeAny(raw, ctx);
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  const wire = JSON.parse(JSON.stringify(result.event)) as unknown;
  expect(NormalizedEvent.parse(wire)).toEqual(wire);
  return result.event;
}

const auditFiles = files('falco-k8s-audit', /\.json$/);

describe('Falco k8s-audit conformance events', () => {
  it('has every trace file', () => {
    expect(auditFiles.length).toBe(47);
  });

  it.each(auditFiles.filter((name) => name !== 'fal_01_003.json'))('%s normalizes', (name) => {
    const events = jsonLines(join(FIXTURES, 'falco-k8s-audit', name));
    expect(events.length).toBeGreaterThan(0);
    for (const raw of events) {
      const event = normalizeValid(raw);
      const ref = raw.objectRef as Record<string, string> | undefined;
      const user = raw.user as { username?: string; groups?: string[] };
      expect(event.event.dataset).toBe('kubernetes.audit');
      expect(event.event.action).toBe(raw.verb);
      expect(event.event.id).toBe(`${raw.auditID}/${raw.stage ?? 'ResponseComplete'}`);
      expect(event['@timestamp']).toBe(raw.stageTimestamp);
      expect(event.user?.name).toBe(user.username);
      expect(event.user?.roles).toEqual(user.groups);
      expect(event.source?.ip).toBe((raw.sourceIPs as string[])[0]);
      expect(event.orchestrator.cluster.name).toBe('conformance');
      expect(event.orchestrator.namespace).toBe(ref?.namespace);
      expect(event.orchestrator.resource?.type).toBe(ref?.resource);
      expect(event.kubernetes?.audit.auditID).toBe(raw.auditID);
      expect(event.event.ingested).toBe(ctx.receivedAt);
    }
  });

  it('fal_01_003.json is rejected with a specific reason', () => {
    const [raw] = jsonLines(join(FIXTURES, 'falco-k8s-audit', 'fal_01_003.json'));
    expect(normalizeAny(raw, ctx)).toEqual({ ok: false, reason: 'kind: expected "Event"' });
  });

  it('reads the container image of a created pod', () => {
    const raw = jsonLines(join(FIXTURES, 'falco-k8s-audit', 'create_nginx_pod_privileged.json'))[0]!;
    const event = normalizeValid(raw);
    expect(event.container?.image?.name).toBe('nginx');
    // generateName: the name comes from the response
    expect(event.orchestrator.resource?.name).toBe(
      ((raw.responseObject as Record<string, unknown>).metadata as Record<string, unknown>).name,
    );
  });

  it('removes the credential values of a ConfigMap and keeps the rest of its data', () => {
    for (const raw of jsonLines(
      join(FIXTURES, 'falco-k8s-audit', 'create_configmap_sensitive_values.json'),
    )) {
      const event = normalizeValid(raw);
      const audit = event.kubernetes?.audit as {
        requestObject: { data: unknown };
        responseObject: { data: unknown };
      };
      const data = (raw.requestObject as { data: Record<string, string> }).data;
      for (const body of [audit.requestObject, audit.responseObject]) {
        expect(body.data).toEqual({
          'access.properties': '[REDACTED]',
          'ui.properties': data['ui.properties'],
        });
      }
      expect(JSON.stringify(event)).not.toContain('MY-KEY');
      expect(event.klaxon?.redacted).toContain('/requestObject/data/access.properties');
    }
    const [plain] = jsonLines(join(FIXTURES, 'falco-k8s-audit', 'create_configmap_no_sensitive_values.json'));
    const audit = normalizeValid(plain!).kubernetes?.audit as { requestObject: { data: unknown } };
    expect(audit.requestObject.data).toEqual((plain!.requestObject as { data: unknown }).data);
  });
});
