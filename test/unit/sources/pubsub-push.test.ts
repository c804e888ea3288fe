// `type: pubsub-push`: POST /v1/pubsub on the real ingest app (inject), authenticated by OIDC tokens signed with a
// test key and checked against a local JWKS file, as a Pub/Sub push subscription sends them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import type { Bus } from '../../../src/bus/types.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { BusPublisher } from '../../../src/ingest/publisher.ts';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { Acceptor } from '../../../src/sources/accept.ts';
import { FileCheckpointStore } from '../../../src/sources/checkpoints.ts';
import { pubsubPushSource } from '../../../src/sources/pubsub-push.ts';
import { PubSubPushSourceSettings } from '../../../src/sources/pubsub-push-settings.ts';
import { fixtureJson, variant } from '../cloud/fixtures.ts';
import { FakeBus } from '../reliability/fake-bus.ts';

type Json = Record<string, unknown>;
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const TOPIC = 'klaxon.events';
const AUDIENCE = 'https://klaxon.example.com/v1/pubsub';
const PUSHER = 'klaxon-push@acme-prod.iam.gserviceaccount.com';
const INGEST_TOKEN = 'prod-token-0123456789abcdefghijklmnopqrstuv';
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-push-'));
const envelope = fixtureJson('gke/pubsub-push.json') as Json;
const execId = JSON.parse(
  Buffer.from((envelope.message as Json).data as string, 'base64').toString(),
).insertId;

let signing: Key;
let stranger: Key;

/** A token as Pub/Sub's push sends it, with `change` applied to the claims. */
async function token(
  change: (claims: JWTPayload) => void = () => {},
  key: Key = signing,
  kid = 'k1',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    azp: '117234567890123456789',
    sub: '117234567890123456789',
    email: PUSHER,
    email_verified: true,
    iat: now,
    exp: now + 3600,
  };
  change(claims);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
}

/** The envelope with its message data replaced by `entry`. */
function pushOf(entry: unknown): Json {
  return variant(envelope, (e) => {
    (e.message as Json).data = Buffer.from(JSON.stringify(entry)).toString('base64');
  });
}

async function appWith(bus: Bus, settings: Json = {}): Promise<FastifyInstance> {
  const config = PubSubPushSourceSettings.parse({
    type: 'pubsub-push',
    audience: AUDIENCE,
    serviceAccountEmail: PUSHER,
    jwksFile: join(scratch, 'jwks.json'),
    allowedClusters: ['prod-gke'],
    ...settings,
  });
  const routes = pubsubPushSource.routes!(config, {
    name: 'gke-push',
    accept: new Acceptor({
      publisher: new BusPublisher(bus, TOPIC),
      maxItemBytes: 256 * 1024,
      maxAheadMs: 0,
    }),
    checkpoints: new FileCheckpointStore(scratch),
    logger: createLogger('silent'),
  });
  return buildIngestApp({
    settings: loadConfig({}),
    bus,
    auth: { tokens: new TokenTable({ prod: INGEST_TOKEN }) },
    sourceRoutes: [routes],
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

let bus: MemoryBus;
let app: FastifyInstance;
const published = () =>
  bus.read(TOPIC, 0, 1000).map((m) => JSON.parse(m.value.toString()) as NormalizedEvent);
const post = async (authorization: string | undefined, body: unknown = envelope, type = 'application/json') =>
  app.inject({
    method: 'POST',
    url: '/v1/pubsub',
    headers: { 'content-type': type, ...(authorization === undefined ? {} : { authorization }) },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signing = pair.privateKey;
  stranger = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  writeFileSync(join(scratch, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  bus = new MemoryBus();
  await bus.start();
  app = await appWith(bus);
});
afterAll(async () => {
  await app.close();
});

describe('POST /v1/pubsub', () => {
  it('takes a push signed by the right key: 200 once the event is durable, filed under the entry’s allowed cluster', async () => {
    const before = published().length;
    const acked = await metric('klaxon_pubsub_messages_total', { source: 'gke-push', outcome: 'acked' });
    const res = await post(`Bearer ${await token()}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 1 });
    const [event] = published().slice(before);
    expect(event).toMatchObject({
      event: { id: `${execId}/ResponseComplete` },
      orchestrator: { cluster: { name: 'prod-gke' } },
      kubernetes: { audit: { objectRef: { subresource: 'exec' } } },
    });
    expect(
      (await metric('klaxon_pubsub_messages_total', { source: 'gke-push', outcome: 'acked' })) - acked,
    ).toBe(1);
  });

  it.each([
    ['no token', async () => undefined],
    ['a token signed by another key (same key id)', async () => `Bearer ${await token(() => {}, stranger)}`],
    [
      'a token naming a key the JWKS does not hold',
      async () => `Bearer ${await token(() => {}, stranger, 'k9')}`,
    ],
    [
      'a token for another audience',
      async () =>
        `Bearer ${await token((c) => {
          c.aud = 'https://other.example.com/push';
        })}`,
    ],
    [
      'an expired token',
      async () =>
        `Bearer ${await token((c) => {
          c.iat = c.exp! - 7200;
          c.exp = c.exp! - 3700;
        })}`,
    ],
    [
      'a token from another issuer',
      async () =>
        `Bearer ${await token((c) => {
          c.iss = 'https://issuer.example.com';
        })}`,
    ],
    ['a Klaxon ingest token', async () => `Bearer ${INGEST_TOKEN}`],
    [
      'an HS256 token (algorithm not allowed)',
      async () =>
        `Bearer ${await new SignJWT({
          aud: AUDIENCE,
          iss: 'https://accounts.google.com',
          email: PUSHER,
          email_verified: true,
        })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('a-shared-secret-of-thirty-two-bytes!'))}`,
    ],
  ])('refuses %s with 401 before reading the body; nothing is published', async (_what, authorization) => {
    const before = published().length;
    const res = await post(await authorization());
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'unauthorized' });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="klaxon"/);
    expect(published().length).toBe(before);
  });

  it.each([
    [
      'another service account',
      (c: JWTPayload) => {
        c.email = 'someone@acme-prod.iam.gserviceaccount.com';
      },
    ],
    [
      'an unverified e-mail',
      (c: JWTPayload) => {
        c.email_verified = false;
      },
    ],
    [
      'no e-mail at all',
      (c: JWTPayload) => {
        delete c.email;
      },
    ],
  ])('refuses a valid Google token of %s with 403', async (_what, change) => {
    const res = await post(`Bearer ${await token(change)}`);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden' });
  });

  it.each([
    ['gzip', (b: Buffer) => gzipSync(b)],
    ['zstd', (b: Buffer) => zstdCompressSync(b)],
  ])(
    'reads an envelope sent with Content-Encoding %s, and answers a corrupt one with 400',
    async (encoding, pack) => {
      const headers = {
        authorization: `Bearer ${await token()}`,
        'content-type': 'application/json',
        'content-encoding': encoding,
      };
      const body = pack(Buffer.from(JSON.stringify(envelope)));
      const ok = await app.inject({ method: 'POST', url: '/v1/pubsub', headers, payload: body });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ accepted: 1 });
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/pubsub',
        headers,
        payload: body.subarray(0, -8),
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'invalid_compressed_body' });
    },
  );

  it('refuses two Authorization headers', async () => {
    const good = `Bearer ${await token()}`;
    const res = await app.inject({
      method: 'POST',
      url: '/v1/pubsub',
      headers: { 'content-type': 'application/json', authorization: [good, good] as unknown as string },
      payload: JSON.stringify(envelope),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'ambiguous_credentials' });
  });

  it('the push token opens only the push route: /v1/audit keeps its bearer guard', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/audit',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
      payload: '{"kind":"EventList","items":[]}',
    });
    expect(res.statusCode).toBe(401);
  });

  it('acks a message that can never be processed (200, dead-lettered with its reason) so Pub/Sub stops sending it', async () => {
    const before = published().length;
    const dead = await metric('klaxon_pubsub_messages_total', {
      source: 'gke-push',
      outcome: 'deadlettered',
    });
    const operation = await post(
      `Bearer ${await token()}`,
      pushOf(fixtureJson('gke/cluster-operation.json')),
    );
    expect(operation.statusCode).toBe(200);
    expect(operation.json()).toEqual({
      accepted: 0,
      deadLettered: true,
      reason: 'message.data[0]: not a GKE Kubernetes audit entry: resource.type is "gke_cluster"',
    });
    const otherCluster = pushOf(
      variant(
        JSON.parse(Buffer.from((envelope.message as Json).data as string, 'base64').toString()),
        (e: Json) => {
          ((e.resource as Json).labels as Json).cluster_name = 'staging';
        },
      ),
    );
    const claimed = await post(`Bearer ${await token()}`, otherCluster);
    expect(claimed.json()).toMatchObject({
      accepted: 0,
      deadLettered: true,
      reason: expect.stringContaining('"staging"'),
    });
    const garbage = variant(envelope, (e) => {
      (e.message as Json).data = Buffer.from('not json').toString('base64');
    });
    expect((await post(`Bearer ${await token()}`, garbage)).json()).toMatchObject({ deadLettered: true });
    expect(published().length).toBe(before);
    expect(
      (await metric('klaxon_pubsub_messages_total', { source: 'gke-push', outcome: 'deadlettered' })) - dead,
    ).toBe(3);
  });

  it('answers 400 to a body that is no push envelope, and 415 to another content type', async () => {
    const auth = `Bearer ${await token()}`;
    expect((await post(auth, 'not json')).json()).toMatchObject({ error: 'invalid_json' });
    const notEnvelope = await post(auth, { protoPayload: {}, resource: { type: 'k8s_cluster' } });
    expect(notEnvelope.statusCode).toBe(400);
    expect(notEnvelope.json()).toMatchObject({ error: 'invalid_body' });
    expect((await post(auth, envelope, 'text/plain')).statusCode).toBe(415);
  });

  it('answers 503 with Retry-After when the events cannot be made durable, so Pub/Sub delivers the message again', async () => {
    const down = new FakeBus();
    down.mode = 'down';
    const outage = await appWith(down);
    try {
      const res = await outage.inject({
        method: 'POST',
        url: '/v1/pubsub',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
        payload: JSON.stringify(envelope),
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'unavailable' });
      expect(res.headers['retry-after']).toBe('5');
    } finally {
      await outage.close();
    }
  });

  it('answers 503 when the signing keys cannot be fetched: a good message must not be refused for good', async () => {
    const unreachable = await appWith(bus, { jwksFile: undefined, jwksUrl: 'https://127.0.0.1:9/certs' });
    try {
      const res = await unreachable.inject({
        method: 'POST',
        url: '/v1/pubsub',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
        payload: JSON.stringify(envelope),
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('10');
    } finally {
      await unreachable.close();
    }
  });

  it('serves another path for a second push source, and stops the start when its JWKS file is missing', async () => {
    const second = await appWith(bus, {
      path: '/v1/pubsub/prod-eu',
      cluster: 'prod-eu',
      allowedClusters: undefined,
    });
    try {
      const res = await second.inject({
        method: 'POST',
        url: '/v1/pubsub/prod-eu',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
        payload: JSON.stringify(envelope),
      });
      expect(res.json()).toEqual({ accepted: 1 });
      expect(published().at(-1)?.orchestrator.cluster.name).toBe('prod-eu');
    } finally {
      await second.close();
    }
    await expect(appWith(bus, { jwksFile: join(scratch, 'missing.json') })).rejects.toThrow(
      /^jwksFile .*missing\.json: ENOENT$/,
    );
  });

  it('reads the JWKS file again when a token names a key it does not hold (rotation)', async () => {
    const rotated = await generateKeyPair('RS256', { extractable: true });
    const path = join(scratch, 'rotating.json');
    writeFileSync(
      path,
      JSON.stringify({
        keys: [
          {
            ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey)),
            kid: 'old',
          },
        ],
      }),
    );
    const rotating = await appWith(bus, { jwksFile: path });
    try {
      writeFileSync(
        path,
        JSON.stringify({ keys: [{ ...(await exportJWK(rotated.publicKey)), kid: 'new' }] }),
      );
      const res = await rotating.inject({
        method: 'POST',
        url: '/v1/pubsub',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await token(() => {}, rotated.privateKey, 'new')}`,
        },
        payload: JSON.stringify(envelope),
      });
      expect(res.json()).toEqual({ accepted: 1 });
    } finally {
      await rotating.close();
    }
  });
});
