import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// bin/healthcheck.js is the image's HEALTHCHECK. It must work when ingest speaks HTTPS (the
// Kubernetes and TLS set-ups) as well as plain HTTP, and fail when the process is unhealthy.

const root = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'klaxon-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'tls.crt',
    '-subj',
    '/CN=klaxon-ingest.klaxon.svc',
    '-days',
    '1',
  ],
  { cwd: dir, stdio: 'pipe' },
);

async function serving(server: Server, status: number): Promise<number> {
  server.on('request', (req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function healthcheck(env: Record<string, string>): Promise<number | null> {
  const child = spawn(process.execPath, [join(root, 'bin/healthcheck.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'ignore',
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('bin/healthcheck.js', () => {
  const tls = { key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')) };

  it('asks over HTTPS when KLAXON_TLS_CERT is set', async () => {
    const server = createHttps(tls);
    const port = await serving(server, 200);
    try {
      expect(await healthcheck({ KLAXON_PORT: String(port), KLAXON_TLS_CERT: join(dir, 'tls.crt') })).toBe(0);
      // Plain HTTP to a TLS port is not an answer.
      expect(await healthcheck({ KLAXON_PORT: String(port) })).toBe(1);
    } finally {
      server.close();
    }
  });

  it('asks over HTTP otherwise, and at KLAXON_HEALTH_URL when set (detect)', async () => {
    const server = createHttp();
    const port = await serving(server, 200);
    try {
      expect(await healthcheck({ KLAXON_PORT: String(port) })).toBe(0);
      expect(await healthcheck({ KLAXON_HEALTH_URL: `http://127.0.0.1:${port}/healthz` })).toBe(0);
    } finally {
      server.close();
    }
  });

  it('fails on an unhealthy answer or nothing listening', async () => {
    const server = createHttp();
    const port = await serving(server, 503);
    server.close();
    await once(server, 'close');
    expect(await healthcheck({ KLAXON_PORT: String(port) })).toBe(1);
    const sick = createHttp();
    const sickPort = await serving(sick, 503);
    try {
      expect(await healthcheck({ KLAXON_PORT: String(sickPort) })).toBe(1);
    } finally {
      sick.close();
    }
  });
});
