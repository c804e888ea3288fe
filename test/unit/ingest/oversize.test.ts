import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { TOKENS } from './helpers.ts';

let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  const bus = new MemoryBus();
  await bus.start();
  app = await buildIngestApp({ settings: loadConfig({}), bus, auth: { tokens: new TokenTable(TOKENS) } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(() => app?.close());

/** Streams `total` bytes in 1 MiB chunks, chunked (no Content-Length) or with one. */
function postLarge(total: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/audit',
        headers: {
          authorization: `Bearer ${TOKENS.prod}`,
          'content-type': 'application/json',
          ...(chunked ? {} : { 'content-length': String(total) }),
        },
      },
      (res) => {
        answered = true;
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          // As a sender does on a final answer: stop sending the rest of the body.
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    // Once the answer is in, the server may close before the whole body is sent; a reset before it is a failure
    // (it is what lost the 413 when the server closed at once).
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('a 64 MiB body', () => {
  // Streaming tens of MiB until the server cuts the body off takes seconds when the unit files run in parallel.
  it('gets 413 with a JSON reason, announced or streamed, and the server stays healthy', {
    timeout: 60_000,
  }, async () => {
    for (const chunked of [false, true]) {
      const res = await postLarge(64 * 1024 * 1024, chunked);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'payload_too_large' });
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
  });
});
