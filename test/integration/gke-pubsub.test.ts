// GKE audit logs end to end with the real parts: entries published to a topic on Google's pstest, read by a
// `klaxon serve` process through its `type: pubsub` source (the real @google-cloud/pubsub client), alerts in the
// alerts file; a restart mid-stream; messages that can never be processed; the push endpoint of a `klaxon serve`
// process with OIDC tokens signed by a test key.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { type Klaxon, spawnKlaxon, waitForStderr } from '../helpers/klaxon-process.ts';
import { fixtureJson, variant } from '../unit/cloud/fixtures.ts';
import { endpoints, pubsubClient, uniqueTopic, waitFor } from './services.ts';

type Json = Record<string, unknown>;
const exec = (fixtureJson('gke/gcloud-logging-read.json') as Json[]).find(
  (e) => (e.protoPayload as Json).methodName === 'io.k8s.core.v1.pods.exec.create',
) as Json;

/** An exec into pod `pod` as GKE logs it, stamped now; `insertId` is its audit ID. */
function execEntry(pod: string, insertId = `exec-${pod}-${Math.random().toString(36).slice(2)}`): Json {
  return variant(exec, (e) => {
    e.insertId = insertId;
    (e.operation as Json).id = insertId;
    e.timestamp = new Date().toISOString();
    const p = e.protoPayload as Json;
    p.resourceName = `core/v1/namespaces/shop/pods/${pod}/exec`;
  });
}

const alertsIn = (file: string): Alert[] => {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Alert);
};
/** The pods of the exec alerts first raised (revision 0), one entry per raise. */
const execRaises = (file: string) =>
  alertsIn(file)
    .filter((a) => a.rule.name === 'k8s-exec-into-pod' && a.klaxon.revision === 0)
    .map((a) => ({
      id: a.klaxon.alert_id,
      pod: a.orchestrator?.resource?.name,
      cluster: a.orchestrator?.cluster?.name,
    }));

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

let running: Klaxon[] = [];
afterEach(async () => {
  await Promise.all(running.map((k) => k.kill('SIGKILL')));
  running = [];
});

interface Setup {
  dir: string;
  alerts: string;
  env: Record<string, string | undefined>;
}

function setup(sources: string): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-gke-'));
  writeFileSync(join(dir, 'settings.yaml'), sources);
  const alerts = join(dir, 'alerts.jsonl');
  return {
    dir,
    alerts,
    env: {
      KLAXON_CONFIG: join(dir, 'settings.yaml'),
      KLAXON_ALERTS_FILE: alerts,
      KLAXON_STATE_DIR: join(dir, 'state'),
      KLAXON_SPOOL_DIR: join(dir, 'spool'),
      KAFKA_BROKERS: undefined,
      ELASTICSEARCH_URL: undefined,
      KLAXON_ALERTMANAGER_URL: undefined,
    },
  };
}

async function serve(s: Setup): Promise<Klaxon & { url: string }> {
  const proc = spawnKlaxon(['serve', '--port', '0', '--host', '127.0.0.1'], s.env);
  running.push(proc);
  return { ...proc, url: await waitForStderr(proc, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/) };
}

describe('GKE audit logs through Pub/Sub (pstest)', () => {
  let pubsub: PubSub;

  beforeAll(() => {
    pubsub = pubsubClient();
  });
  afterAll(async () => {
    await pubsub.close();
  });

  async function topicAndSubscription(): Promise<{ topic: Topic; subscription: string }> {
    const [topic] = await pubsub.createTopic(uniqueTopic('gke-audit'));
    const [subscription] = await topic.createSubscription(uniqueTopic('gke-klaxon'), {
      ackDeadlineSeconds: 10,
    });
    return { topic, subscription: subscription.name };
  }

  const pullSettings = (subscription: string) =>
    `sources:\n  gke:\n    type: pubsub\n    subscription: ${subscription}\n    allowedClusters: [prod-gke]\n    batchMs: 20\n`;

  it('raises one alert per entry through a restart mid-stream: none lost, none twice, a redelivered copy ignored', async () => {
    expect(endpoints().pubsubEmulatorHost).not.toBe('');
    const { topic, subscription } = await topicAndSubscription();
    const s = setup(pullSettings(subscription));
    const pods = Array.from({ length: 60 }, (_, i) => `web-${i}`);
    const publish = (pod: string, insertId?: string) =>
      topic.publishMessage({ data: Buffer.from(JSON.stringify(execEntry(pod, insertId))) });

    // The same entry twice, as Pub/Sub redelivers it (or a sink retries it): one alert.
    await publish('twice', 'exec-twice-0001');
    await publish('twice', 'exec-twice-0001');
    for (const pod of pods.slice(0, 20)) await publish(pod);
    let first = await serve(s);
    await waitFor(() => execRaises(s.alerts).length >= 5, 60_000);
    // Entries keep coming while Klaxon stops and starts again.
    const feeding = (async () => {
      for (const pod of pods.slice(20)) {
        await publish(pod);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    expect(await first.kill('SIGTERM')).toBe(0);
    first = await serve(s);
    await feeding;
    await waitFor(() => new Set(execRaises(s.alerts).map((r) => r.pod)).size >= pods.length + 1, 120_000);
    // A message acked by neither process would come back once its 10 s ack deadline passed: give it the time.
    await new Promise((r) => setTimeout(r, 12_000));

    const raises = execRaises(s.alerts);
    expect(new Set(raises.map((r) => r.pod))).toEqual(new Set([...pods, 'twice']));
    expect(raises).toHaveLength(pods.length + 1);
    expect(new Set(raises.map((r) => r.id)).size).toBe(raises.length);
    expect(new Set(raises.map((r) => r.cluster))).toEqual(new Set(['prod-gke']));
    expect(await first.kill('SIGTERM')).toBe(0);
  });

  it('acks what it can never process as a dead letter (counted, reason logged, payload never) and does not see it again', async () => {
    const { topic, subscription } = await topicAndSubscription();
    const s = setup(pullSettings(subscription));
    const marker = 'payload-marker-7f3c9a';
    await topic.publishMessage({ data: Buffer.from(`not json ${marker}`) });
    await topic.publishMessage({
      data: Buffer.from(JSON.stringify(fixtureJson('gke/cluster-operation.json'))),
    });
    const claimed = variant(execEntry('claimed'), (e) => {
      ((e.resource as Json).labels as Json).cluster_name = 'someone-elses';
      ((e.protoPayload as Json).requestMetadata as Json).callerSuppliedUserAgent = marker;
    });
    await topic.publishMessage({ data: Buffer.from(JSON.stringify(claimed)) });
    await topic.publishMessage({ data: Buffer.from(JSON.stringify(execEntry('good'))) });
    const k = await serve(s);

    await waitFor(() => execRaises(s.alerts).some((r) => r.pod === 'good'), 60_000);
    await waitFor(
      async () =>
        (await metric(k.url, 'klaxon_pubsub_messages_total', { source: 'gke', outcome: 'deadlettered' })) ===
        3,
      30_000,
    );
    // Past the 10 s ack deadline: a message that was not acked would have come back by now.
    await new Promise((r) => setTimeout(r, 12_000));
    const count = (outcome: string) =>
      metric(k.url, 'klaxon_pubsub_messages_total', { source: 'gke', outcome });
    expect(await count('received')).toBe(4);
    expect(await count('acked')).toBe(4);
    expect(await count('deadlettered')).toBe(3);
    expect(await count('nacked')).toBe(0);
    expect(await metric(k.url, 'klaxon_pubsub_events_total', { source: 'gke' })).toBe(1);
    const log = k.stderr();
    expect(log).toContain('resource.type is \\"gke_cluster\\"');
    expect(log).toContain('cluster \\"someone-elses\\" is not one of this source\'s allowedClusters');
    expect(log).not.toContain(marker);
    expect(execRaises(s.alerts).map((r) => r.pod)).toEqual(['good']);
  });

  it('reports a subscription it cannot read on /readyz (degraded), and keeps serving', async () => {
    const s = setup(
      pullSettings(`projects/${endpoints().pubsubProjectId}/subscriptions/${uniqueTopic('missing')}`),
    );
    const k = await serve(s);
    const body = await waitFor(async () => {
      const res = await fetch(`${k.url}/readyz`);
      const json = (await res.json()) as Json;
      return res.status === 200 && json.status === 'degraded' ? json : undefined;
    }, 30_000);
    expect(JSON.stringify(body)).toMatch(
      /gke: cannot pull from projects\/.*NOT_FOUND|gke: cannot pull from projects\/.*gRPC 5/,
    );
  });
});

describe('GKE audit logs pushed by Pub/Sub to a klaxon serve process', () => {
  const audience = 'https://klaxon.example.com/v1/pubsub';
  const pusher = 'klaxon-push@acme-prod.iam.gserviceaccount.com';
  type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let right: Key;
  let wrong: Key;

  async function token(change: (c: JWTPayload) => void = () => {}, key: Key = right): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = {
      iss: 'https://accounts.google.com',
      aud: audience,
      email: pusher,
      email_verified: true,
      iat: now,
      exp: now + 3600,
    };
    change(claims);
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'test-1' }).sign(key);
  }

  let jwk: Json;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    right = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-1', alg: 'RS256' };
    wrong = (await generateKeyPair('RS256')).privateKey;
  });

  it('takes pushes signed by the right key and refuses the wrong key, the wrong audience and expired tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-gke-push-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const s = setup(
      `sources:\n  gke-push:\n    type: pubsub-push\n    audience: ${audience}\n    serviceAccountEmail: ${pusher}\n    jwksFile: ${join(dir, 'jwks.json')}\n    cluster: prod-us\n`,
    );
    const k = await serve(s);
    // One connection per request: Klaxon closes the connection of a refused request after answering.
    const push = (authorization: string, pod: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const body = JSON.stringify({
          message: {
            data: Buffer.from(JSON.stringify(execEntry(pod))).toString('base64'),
            messageId: '1234567890',
            publishTime: new Date().toISOString(),
          },
          subscription: 'projects/acme-prod/subscriptions/klaxon-gke-push',
        });
        const req = request(
          `${k.url}/v1/pubsub`,
          { method: 'POST', agent: false, headers: { authorization, 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => {
              text += chunk.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    const refused = [
      await push(`Bearer ${await token(() => {}, wrong)}`, 'wrong-key'),
      await push(
        `Bearer ${await token((c) => {
          c.aud = 'https://elsewhere.example.com/';
        })}`,
        'wrong-audience',
      ),
      await push(
        `Bearer ${await token((c) => {
          c.iat = c.exp! - 7200;
          c.exp = c.exp! - 3700;
        })}`,
        'expired',
      ),
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401]);
    const ok = await push(`Bearer ${await token()}`, 'pushed');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ accepted: 1 });

    await waitFor(() => execRaises(s.alerts).some((r) => r.pod === 'pushed'), 30_000);
    expect(execRaises(s.alerts)).toEqual([expect.objectContaining({ pod: 'pushed', cluster: 'prod-us' })]);
    expect(await k.kill('SIGTERM')).toBe(0);
  });
});
