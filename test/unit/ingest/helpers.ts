import type { FastifyInstance } from 'fastify';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';

export const TOKENS = {
  prod: 'prod-token-0123456789abcdefghijklmnopqrstuv',
  staging: ['staging-old-token-0001-abcdefghijklmnop', 'staging-new-token-0002-abcdefghijklmnop'],
};
export const TOPIC = 'klaxon.events';

let seq = 0;
/** A realistic RequestResponse audit event; `extra` overrides fields. */
export function auditEvent(extra: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'list',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
    stageTimestamp: '2024-05-01T10:00:00.010000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...extra,
  };
}

export function eventList(items: unknown[]): Record<string, unknown> {
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
}

export const falcoAlert = (extra: Record<string, unknown> = {}) => ({
  output: '16:31:56.746609046: Error File below a known binary directory opened for writing (user=root)',
  hostname: 'node-1',
  priority: 'Error',
  rule: 'Write below binary dir',
  time: '2019-05-17T15:31:56.746609046Z',
  source: 'syscall',
  output_fields: { 'fd.name': '/bin/hack', 'proc.cmdline': 'touch /bin/hack', 'user.name': 'root' },
  ...extra,
});

export async function makeApp(
  env: Record<string, string> = {},
): Promise<{ app: FastifyInstance; bus: MemoryBus }> {
  const settings = loadConfig(env);
  const bus = new MemoryBus();
  await bus.start();
  const app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable(TOKENS) } });
  return { app, bus };
}

/** Everything on the events topic so far, parsed. */
export function published(bus: MemoryBus): NormalizedEvent[] {
  return bus.read(TOPIC, 0, 1_000_000).map((m) => JSON.parse(m.value.toString('utf8')) as NormalizedEvent);
}

export const bearer = (token: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
});
