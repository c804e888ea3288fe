import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { auditEvent, eventList, published, TOKENS } from './helpers.ts';

// Certificates are made here with the openssl CLI: a CA, a server certificate for 127.0.0.1,
// client certificates signed by the CA (one mapped to a cluster, one not) and a self-signed impostor.
const dir = mkdtempSync(join(tmpdir(), 'klaxon-tls-'));
const path = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function keyAndCsr(name: string, cn: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
}
function selfSigned(name: string, cn: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '1',
  );
}
function signByCa(name: string, ext: string): void {
  writeFileSync(path(`${name}.ext`), ext);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  );
}

interface Client {
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

let app: FastifyInstance;
let bus: MemoryBus;
let port: number;

function post(client: Client): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(eventList([auditEvent()]));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/audit',
        ca: readFileSync(path('ca.crt')),
        cert: client.cert,
        key: client.key,
        headers: {
          'content-type': 'application/json',
          ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const pem = (name: string) => ({
  cert: readFileSync(path(`${name}.crt`)),
  key: readFileSync(path(`${name}.key`)),
});

beforeAll(async () => {
  selfSigned('ca', 'klaxon-test-ca');
  keyAndCsr('server', 'klaxon-ingest');
  signByCa('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  keyAndCsr('prod', 'apiserver-prod');
  signByCa('prod', 'extendedKeyUsage=clientAuth\n');
  keyAndCsr('edge', 'some-host');
  signByCa('edge', 'subjectAltName=DNS:edge-apiserver.example\nextendedKeyUsage=clientAuth\n');
  keyAndCsr('stranger', 'stranger');
  signByCa('stranger', 'extendedKeyUsage=clientAuth\n');
  selfSigned('rogue', 'apiserver-prod');

  bus = new MemoryBus();
  await bus.start();
  app = await buildIngestApp({
    settings: loadConfig({}),
    bus,
    auth: {
      tokens: new TokenTable(TOKENS),
      clientSubjects: { 'apiserver-prod': 'prod', 'edge-apiserver.example': 'edge' },
    },
    https: { ...pem('server'), ca: readFileSync(path('ca.crt')) },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await app?.close();
  await bus?.stop();
});

describe('HTTPS with client certificates', () => {
  it('maps a CA-signed client certificate to its cluster by subject CN', async () => {
    const res = await post(pem('prod'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
    expect(published(bus).at(-1)?.orchestrator.cluster.name).toBe('prod');
  });

  it('maps a certificate by its DNS subject alternative name', async () => {
    const res = await post(pem('edge'));
    expect(res.status).toBe(200);
    expect(published(bus).at(-1)?.orchestrator.cluster.name).toBe('edge');
  });

  it('forbids a CA-signed certificate that maps to no cluster', async () => {
    const res = await post(pem('stranger'));
    expect(res.status).toBe(403);
    expect(res.body.reason).toMatch(/stranger/);
  });

  it('refuses a self-signed certificate that claims a mapped name', async () => {
    const res = await post(pem('rogue'));
    expect(res.status).toBe(401);
    expect(res.body.reason).toMatch(/not trusted/);
  });

  it('still takes bearer tokens over TLS, and refuses a request with neither', async () => {
    const withToken = await post({ token: TOKENS.staging[0] });
    expect(withToken.status).toBe(200);
    expect(published(bus).at(-1)?.orchestrator.cluster.name).toBe('staging');
    expect((await post({})).status).toBe(401);
  });
});
