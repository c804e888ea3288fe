// Issue 22, defects 3, 4 and 7: what one request or one connection can cost the service, over real sockets.
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LISTED_REJECTIONS } from '../../../src/ingest/rejections.ts';
import { registry } from '../../../src/metrics.ts';
import { bearer, makeApp, TOKENS } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listen(env: Record<string, string> = {}): Promise<number> {
  app = (await makeApp(env)).app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Opens a raw connection, writes `text`, and resolves with what came back once the server closed it. */
function exchange(
  port: number,
  text: string,
  keepWriting?: string,
): Promise<{ answer: string; closedMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, closedMs: Date.now() - started });
    });
    if (text) socket.write(text);
    if (keepWriting) timer = setInterval(() => !socket.destroyed && socket.write(keepWriting), 100);
  });
}

const bodyOf = (answer: string) =>
  JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
const statusOf = (answer: string) => Number(answer.split(' ')[1]);

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const found = m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return found?.value ?? 0;
}

describe('a body of junk items', () => {
  it('lists the first rejections and counts the rest, whatever the number of items', async () => {
    const port = await listen();
    const items = Array.from({ length: 5_000 }, () => 0);
    const res = await fetch(`http://127.0.0.1:${port}/v1/audit`, {
      method: 'POST',
      headers: { ...bearer(TOKENS.prod) },
      body: JSON.stringify(items),
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(20_000);
    const body = JSON.parse(text) as {
      rejected: unknown[];
      rejected_count: number;
      rejected_by_reason: object;
    };
    expect(body.rejected).toHaveLength(MAX_LISTED_REJECTIONS);
    expect(body.rejected_count).toBe(5_000);
    expect(body.rejected_by_reason).toEqual({ schema: 5_000 });
  });

  it('refuses more items than the limit with 413, before parsing a big body', async () => {
    const port = await listen({ KLAXON_MAX_ITEMS: '1000' });
    const before = await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'too_many' });
    for (const count of [1_001, 3_000_000]) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/audit`, {
        method: 'POST',
        headers: { ...bearer(TOKENS.prod) },
        body: `[${'0,'.repeat(count - 1)}0]`,
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'too_many_items' });
    }
    expect(
      (await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'too_many' })) - before,
    ).toBe(2);
  });

  it('clips a long reason (reasons may quote payload keys)', async () => {
    const port = await listen();
    const key = 'k'.repeat(100_000);
    const res = await fetch(`http://127.0.0.1:${port}/v1/falco`, {
      method: 'POST',
      headers: { ...bearer(TOKENS.prod) },
      body: JSON.stringify({
        rule: 'r',
        priority: 'Notice',
        output: 'o',
        output_fields: { [key]: { x: 1 } },
      }),
    });
    const body = (await res.json()) as { reason: string; rejected: Array<{ reason: string }> };
    expect(res.status).toBe(400);
    expect(body.rejected[0]!.reason.length).toBeLessThanOrEqual(300);
    expect(body.reason.length).toBeLessThanOrEqual(300);
  });
});

describe('connections', () => {
  it('closes a connection that sends nothing, and one idle after a keep-alive request', async () => {
    const port = await listen({ KLAXON_IDLE_TIMEOUT_SECONDS: '1' });
    const idle = await exchange(port, '');
    expect(idle.closedMs).toBeLessThan(10_000);
    const kept = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(statusOf(kept.answer)).toBe(200);
    expect(kept.closedMs).toBeLessThan(10_000);
  });

  it('answers a refused credential at once and closes, even while the body is still trickling in', async () => {
    const port = await listen();
    const head =
      'POST /v1/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-wrong-wrong-wrong-wrong-wrong\r\n' +
      'Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[';
    const refused = await exchange(port, head, ' ');
    expect(statusOf(refused.answer)).toBe(401);
    // The client is told not to reuse the connection (a keep-alive client would otherwise send into a closed socket).
    expect(refused.answer.toLowerCase()).toContain('connection: close');
    expect(refused.closedMs).toBeLessThan(5_000);
  });

  it('caps the connections of one address, and serves again once they are gone', async () => {
    const port = await listen({ KLAXON_MAX_CONNECTIONS_PER_ADDRESS: '5' });
    const sockets = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(port, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const over = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(over.answer).toBe('');
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('errors raised before any route', () => {
  it('answer with the documented {error, reason} body and are counted', async () => {
    const port = await listen({ KLAXON_REQUEST_TIMEOUT_SECONDS: '1' });
    const cases: Array<[string, number, string]> = [
      ['GARBAGE\r\n\r\n', 400, 'bad_request'],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
      [
        `POST /v1/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.prod}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[`,
        408,
        'request_timeout',
      ],
    ];
    for (const [text, status, error] of cases) {
      const labels = { endpoint: 'none', code: String(status) };
      const before = await metric('klaxon_ingest_requests_total', labels);
      const { answer } = await exchange(port, text);
      expect(statusOf(answer), text.slice(0, 20)).toBe(status);
      expect(bodyOf(answer)).toMatchObject({ error, reason: expect.any(String) });
      expect(await metric('klaxon_ingest_requests_total', labels)).toBe(before + 1);
    }
  });
});
