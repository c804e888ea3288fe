// The GKE Pub/Sub sources' pure parts: their settings, which cluster an entry is filed under, what becomes of each
// message on the shared accept path (ack, dead letter, nack), and why a redelivered entry raises no second alert.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { BusPublisher } from '../../../src/ingest/publisher.ts';
import { registry } from '../../../src/metrics.ts';
import { gkeAuditFromMessageData } from '../../../src/normalize/gke-readers.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { Acceptor } from '../../../src/sources/accept.ts';
import { clusterFor } from '../../../src/sources/gke-cluster.ts';
import {
  acceptMessages,
  type ConvertedMessage,
  convertMessage,
} from '../../../src/sources/pubsub-messages.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';
import { catalogue, detect, normalized } from '../cloud/detect.ts';
import { fixtureJson, variant } from '../cloud/fixtures.ts';
import { FakeBus } from '../reliability/fake-bus.ts';

type Json = Record<string, unknown>;
const TOPIC = 'klaxon.events';
const SUBSCRIPTION = 'projects/acme-prod/subscriptions/klaxon-gke-audit';
const entries = fixtureJson('gke/gcloud-logging-read.json') as Json[];
const byMethod = (method: string) =>
  entries.find((e) => (e.protoPayload as Json).methodName === method) as Json;
const exec = byMethod('io.k8s.core.v1.pods.exec.create');

/** An entry of the fixture as published by a sink of another cluster or project. */
function from(entry: Json, labels: Json): Json {
  return variant(entry, (e) => {
    Object.assign((e.resource as Json).labels as Json, labels);
  });
}

/** What a Log Router sink publishes: the LogEntry's JSON as the message data. */
const data = (value: unknown) => Buffer.from(JSON.stringify(value));

function parsePath(sources: unknown): string | undefined {
  const parsed = SourcesSettings.safeParse(sources);
  return parsed.success ? undefined : parsed.error.issues[0]!.path.join('.');
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe('pubsub and pubsub-push settings', () => {
  it('take a subscription with a fixed cluster, or the entries’ own clusters from an allow-list', () => {
    const parsed = SourcesSettings.parse({
      gke: { type: 'pubsub', subscription: SUBSCRIPTION, cluster: 'prod-us' },
      gke2: {
        type: 'pubsub',
        subscription: SUBSCRIPTION,
        allowedClusters: ['prod-eu', 'prod-us'],
        projects: ['acme-prod'],
      },
      push: {
        type: 'pubsub-push',
        audience: 'https://klaxon.example.com/v1/pubsub',
        serviceAccountEmail: 'klaxon-push@acme-prod.iam.gserviceaccount.com',
        cluster: 'prod-us',
      },
    });
    expect(parsed.gke).toMatchObject({ maxMessages: 1000, maxBytes: 64 * 1024 * 1024, batchSize: 100 });
    expect(parsed.push).toMatchObject({
      path: '/v1/pubsub',
      issuers: ['https://accounts.google.com', 'accounts.google.com'],
      bodyLimit: 16 * 1024 * 1024,
    });
  });

  it.each([
    ['neither cluster nor allowedClusters', { type: 'pubsub', subscription: SUBSCRIPTION }, 'x.cluster'],
    [
      'both cluster and allowedClusters',
      { type: 'pubsub', subscription: SUBSCRIPTION, cluster: 'a1', allowedClusters: ['a1'] },
      'x.cluster',
    ],
    [
      'a subscription without its project',
      { type: 'pubsub', subscription: 'klaxon-gke', cluster: 'a1' },
      'x.subscription',
    ],
    [
      'an allowed cluster that is no cluster name',
      { type: 'pubsub', subscription: SUBSCRIPTION, allowedClusters: ['a/b'] },
      'x.allowedClusters.0',
    ],
    [
      'unbounded flow control',
      { type: 'pubsub', subscription: SUBSCRIPTION, cluster: 'a1', maxMessages: 0 },
      'x.maxMessages',
    ],
    [
      'too many bytes held',
      { type: 'pubsub', subscription: SUBSCRIPTION, cluster: 'a1', maxBytes: '2GiB' },
      'x.maxBytes',
    ],
    ['an unknown key', { type: 'pubsub', subscription: SUBSCRIPTION, cluster: 'a1', subscriptoin: 'x' }, 'x'],
    [
      'a JWKS over plain HTTP',
      {
        type: 'pubsub-push',
        audience: 'a',
        serviceAccountEmail: 'p@x.iam.gserviceaccount.com',
        cluster: 'a1',
        jwksUrl: 'http://keys.example/certs',
      },
      'x.jwksUrl',
    ],
    [
      'a JWKS URL and a JWKS file',
      {
        type: 'pubsub-push',
        audience: 'a',
        serviceAccountEmail: 'p@x.iam.gserviceaccount.com',
        cluster: 'a1',
        jwksUrl: 'https://keys.example/certs',
        jwksFile: '/etc/klaxon/jwks.json',
      },
      'x.jwksFile',
    ],
    [
      'no service account',
      { type: 'pubsub-push', audience: 'a', serviceAccountEmail: 'nobody', cluster: 'a1' },
      'x.serviceAccountEmail',
    ],
    [
      'a path outside /v1/pubsub',
      {
        type: 'pubsub-push',
        audience: 'a',
        serviceAccountEmail: 'p@x.iam.gserviceaccount.com',
        cluster: 'a1',
        path: '/v1/audit',
      },
      'x.path',
    ],
  ])('refuse %s, naming its path', (_what, source, path) => {
    expect(parsePath({ x: source })).toBe(path);
  });
});

describe('the cluster of a GKE entry', () => {
  const named = { projectId: 'acme-prod', location: 'europe-west1', name: 'prod-gke' };

  it('is the configured one, whatever the entry names', () => {
    expect(clusterFor({ cluster: 'prod-us' }, named)).toEqual({ ok: true, cluster: 'prod-us' });
    expect(clusterFor({ cluster: 'prod-us' }, {})).toEqual({ ok: true, cluster: 'prod-us' });
  });

  it('is the entry’s own only when the allow-list has it', () => {
    expect(clusterFor({ allowedClusters: ['prod-gke'] }, named)).toEqual({ ok: true, cluster: 'prod-gke' });
    expect(clusterFor({ allowedClusters: ['prod-us'] }, named)).toEqual({
      ok: false,
      reason: 'cluster "prod-gke" is not one of this source\'s allowedClusters',
    });
    expect(clusterFor({ allowedClusters: ['prod-us'] }, { projectId: 'acme-prod' })).toMatchObject({
      ok: false,
    });
    expect(clusterFor({ allowedClusters: ['x'] }, { name: `${'a'.repeat(100)}"\n` })).toMatchObject({
      reason: expect.stringMatching(/^cluster "a{63}…" is not/),
    });
  });

  it('belongs to one of the listed projects when projects are listed', () => {
    expect(clusterFor({ cluster: 'prod-us', projects: ['acme-prod'] }, named)).toMatchObject({ ok: true });
    expect(clusterFor({ cluster: 'prod-us', projects: ['acme-dev'] }, named)).toEqual({
      ok: false,
      reason: 'project "acme-prod" is not one of this source\'s projects',
    });
    expect(clusterFor({ cluster: 'prod-us', projects: ['acme-dev'] }, { name: 'prod-gke' })).toMatchObject({
      ok: false,
    });
  });
});

describe('Pub/Sub messages on the accept path', () => {
  const settings = { allowedClusters: ['prod-gke', 'prod-eu'] };
  const convert = (value: unknown, id: string): ConvertedMessage =>
    convertMessage(gkeAuditFromMessageData(data(value), id), settings, 'unit-gke');

  async function memoryAcceptor(maxItemBytes = 256 * 1024): Promise<{ acceptor: Acceptor; bus: MemoryBus }> {
    const bus = new MemoryBus();
    await bus.start();
    return {
      acceptor: new Acceptor({ publisher: new BusPublisher(bus, TOPIC), maxItemBytes, maxAheadMs: 0 }),
      bus,
    };
  }

  it('acks messages whose events are durable and dead-letters those that can never be processed, each for its own reason', async () => {
    const { acceptor, bus } = await memoryAcceptor();
    const before = await metric('klaxon_pubsub_events_total', { source: 'unit-gke' });
    const messages = [
      convert(exec, 'm1'),
      convert(from(exec, { cluster_name: 'staging' }), 'm2'),
      convert(fixtureJson('gke/cluster-operation.json'), 'm3'),
      convert(from(byMethod('io.k8s.core.v1.secrets.get'), { cluster_name: 'prod-eu' }), 'm4'),
      convert([], 'm5'),
    ];
    const outcomes = await acceptMessages(acceptor, messages, new Date().toISOString());
    expect(outcomes).toEqual([
      { kind: 'accepted', events: 1 },
      { kind: 'deadletter', reason: 'cluster "staging" is not one of this source\'s allowedClusters' },
      { kind: 'deadletter', reason: 'not a GKE Kubernetes audit entry: resource.type is "gke_cluster"' },
      { kind: 'accepted', events: 1 },
      { kind: 'deadletter', reason: 'the message holds no log entry' },
    ]);
    const events = bus.read(TOPIC, 0, 100).map((m) => JSON.parse(m.value.toString()) as NormalizedEvent);
    expect(events.map((e) => [e.orchestrator.cluster.name, e.event.id])).toEqual([
      ['prod-gke', `${exec.insertId}/ResponseComplete`],
      ['prod-eu', `${byMethod('io.k8s.core.v1.secrets.get').insertId}/ResponseComplete`],
    ]);
    expect((await metric('klaxon_pubsub_events_total', { source: 'unit-gke' })) - before).toBe(2);
  });

  it('dead-letters a message whose only event the accept path rejects (too large), with that reason', async () => {
    const { acceptor, bus } = await memoryAcceptor(2_000);
    const [big, small] = await acceptMessages(
      acceptor,
      [convert(byMethod('io.k8s.core.v1.pods.create'), 'm1'), convert(exec, 'm2')],
      new Date().toISOString(),
    );
    expect(big).toEqual({
      kind: 'deadletter',
      reason: expect.stringMatching(/^event is \d+ bytes, over the limit of 2000 bytes$/),
    });
    expect(small).toEqual({ kind: 'accepted', events: 1 });
    expect(bus.read(TOPIC, 0, 100)).toHaveLength(1);
  });

  it('says "retry" for every message with events when nothing can be made durable, and still dead-letters the rest', async () => {
    const bus = new FakeBus();
    bus.mode = 'down';
    const acceptor = new Acceptor({
      publisher: new BusPublisher(bus, TOPIC),
      maxItemBytes: 256 * 1024,
      maxAheadMs: 0,
    });
    const outcomes = await acceptMessages(
      acceptor,
      [convert(exec, 'm1'), convert(fixtureJson('gke/cluster-operation.json'), 'm2')],
      new Date().toISOString(),
    );
    expect(outcomes).toEqual([
      { kind: 'retry', retryAfterSeconds: 5, reason: 'fake bus is down' },
      { kind: 'deadletter', reason: expect.stringContaining('gke_cluster') },
    ]);
  });

  it('traces every rejection back to its message when a batch holds more events than a response lists', async () => {
    const { acceptor } = await memoryAcceptor(2_000);
    const pod = byMethod('io.k8s.core.v1.pods.create');
    const messages = Array.from({ length: 250 }, (_, i) =>
      convert(
        variant(i % 2 === 0 ? exec : pod, (e) => {
          e.insertId = `entry-${i}`;
        }),
        `m${i}`,
      ),
    );
    const outcomes = await acceptMessages(acceptor, messages, new Date().toISOString());
    expect(outcomes.filter((o) => o.kind === 'accepted')).toHaveLength(125);
    expect(outcomes.every((o, i) => o.kind === (i % 2 === 0 ? 'accepted' : 'deadletter'))).toBe(true);
  });
});

describe('any message', () => {
  it('gets exactly one outcome, and never more accepted events than the entries it holds', async () => {
    const bus = new MemoryBus();
    await bus.start();
    const acceptor = new Acceptor({
      publisher: new BusPublisher(bus, TOPIC),
      maxItemBytes: 64 * 1024,
      maxAheadMs: 0,
    });
    const settings = { allowedClusters: ['prod-gke'], projects: ['acme-prod'] };
    const path = fc.constantFrom<(e: Json) => Json>(
      (e) => e,
      (e) => e.protoPayload as Json,
      (e) => e.resource as Json,
      (e) => (e.resource as Json).labels as Json,
      (e) => (e.protoPayload as Json).requestMetadata as Json,
    );
    const mangled = fc
      .tuple(fc.constantFrom(...entries), path, fc.string(), fc.jsonValue())
      .map(([entry, at, key, value]) =>
        data(
          variant(entry, (e) => {
            at(e)[key] = value;
          }),
        ),
      );
    const bytes = fc.oneof(
      mangled,
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(bytes, { minLength: 1, maxLength: 5 }), async (messages) => {
        const converted = messages.map((m, i) =>
          convertMessage(gkeAuditFromMessageData(m, `m${i}`), settings, 'unit-gke-any'),
        );
        const outcomes = await acceptMessages(acceptor, converted, new Date().toISOString());
        expect(outcomes).toHaveLength(messages.length);
        outcomes.forEach((o, i) => {
          if (o.kind === 'accepted') expect(o.events).toBeLessThanOrEqual(converted[i]!.events.length);
          else expect(o.kind).toBe('deadletter');
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('a redelivered entry', () => {
  it('keeps its event id and raises no second alert; a restarted detector gives the same alert id', () => {
    const ruleset = catalogue();
    const once = convertMessage(
      gkeAuditFromMessageData(data(exec), 'm0'),
      { cluster: 'prod-gke' },
      'unit-gke',
    );
    const again = convertMessage(
      gkeAuditFromMessageData(data(exec), 'm0'),
      { cluster: 'prod-gke' },
      'unit-gke',
    );
    const first = normalized(once.events[0]!.event, 'prod-gke');
    const second = normalized(again.events[0]!.event, 'prod-gke');
    expect(second.event.id).toBe(first.event.id);

    const alone = detect(ruleset, [first]);
    const twice = detect(ruleset, [first, second]);
    expect(alone.map((a) => a.rule.name)).toContain('k8s-exec-into-pod');
    expect(twice.map((a) => a.klaxon.alert_id)).toEqual(alone.map((a) => a.klaxon.alert_id));
    // Another replica, or this one after a restart, that gets the redelivery raises the same alert id, which
    // every sink stores once (Elasticsearch document id, Alertmanager labels).
    expect(detect(ruleset, [second]).map((a) => a.klaxon.alert_id)).toEqual(
      alone.map((a) => a.klaxon.alert_id),
    );
  });
});
