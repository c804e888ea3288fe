// Compressed request bodies (Content-Encoding gzip, deflate, zstd) on every ingest route, through a real
// listening server: the bodies are made by zlib, the bombs inflate to a gibibyte, the truncated ones end early.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { BodyDecodeError, decodeBody, parseContentEncoding } from '../../../src/ingest/decompress.ts';
import { ingestRejected } from '../../../src/metrics.ts';
import { auditEvent, eventList, falcoAlert, published, TOKENS } from './helpers.ts';

const MiB = 1024 * 1024;
let app: FastifyInstance;
let bus: MemoryBus;
let port: number;

beforeAll(async () => {
  bus = new MemoryBus();
  await bus.start();
  app = await buildIngestApp({
    settings: loadConfig({ KLAXON_AUDIT_BODY_LIMIT: '4MiB', KLAXON_FALCO_BODY_LIMIT: '1MiB' }),
    bus,
    auth: { tokens: new TokenTable(TOKENS) },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app?.close();
  await bus?.stop();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Posts `body` (a buffer, or a stream sent chunked) with these headers, over a real connection. */
function post(path: string, headers: Record<string, string>, body: Buffer | Readable): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: {
          authorization: `Bearer ${TOKENS.prod}`,
          ...(Buffer.isBuffer(body) ? { 'content-length': String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
          }),
        );
      },
    );
    // The server may answer before the whole body is sent; the answer is what counts.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

const json = (encoding: string) => ({ 'content-type': 'application/json', 'content-encoding': encoding });

async function rejected(reason: string): Promise<number> {
  const { values } = await ingestRejected.get();
  return values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

/** `total` zero bytes in 1 MiB writes through a zlib compressor: a bomb without a gibibyte in memory. */
async function compressedZeros(
  compressor: zlib.Zlib & NodeJS.ReadWriteStream,
  total: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  compressor.on('data', (c: Buffer) => chunks.push(c));
  const zeros = Buffer.alloc(MiB);
  for (let sent = 0; sent < total; sent += MiB) {
    if (!compressor.write(zeros)) await once(compressor, 'drain');
  }
  compressor.end();
  await once(compressor, 'end');
  return Buffer.concat(chunks);
}

describe('compressed bodies', () => {
  const batch = () => Buffer.from(JSON.stringify(eventList([auditEvent(), auditEvent(), auditEvent()])));

  it.each([
    ['gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['x-gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['GZIP', (b: Buffer) => zlib.gzipSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateRawSync(b)],
    ['zstd', (b: Buffer) => zlib.zstdCompressSync(b)],
    ['identity', (b: Buffer) => b],
  ])('POST /v1/audit with Content-Encoding %s is read as the JSON it inflates to', async (encoding, pack) => {
    const before = published(bus).length;
    const res = await post('/v1/audit', json(encoding), pack(batch()));
    expect(res).toEqual({ status: 200, body: { accepted: 3, rejected: [] } });
    expect(published(bus).length).toBe(before + 3);
  });

  it.each([
    ['gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateSync(b)],
    ['zstd', (b: Buffer) => zlib.zstdCompressSync(b)],
  ])(
    'POST /v1/flows with Content-Encoding %s reads the Hubble exporter lines it inflates to',
    async (encoding, pack) => {
      const lines = readFileSync(join(import.meta.dirname, '../../fixtures/hubble/drop-networkpolicy.jsonl'));
      const before = published(bus).length;
      const res = await post(
        '/v1/flows',
        { 'content-type': 'application/x-ndjson', 'content-encoding': encoding },
        pack(lines),
      );
      expect(res).toEqual({ status: 200, body: { accepted: 4, filtered: 0, not_flows: 0, rejected: [] } });
      expect(published(bus).length).toBe(before + 4);
      const truncated = await post(
        '/v1/flows',
        { 'content-type': 'application/x-ndjson', 'content-encoding': encoding },
        pack(lines).subarray(0, -6),
      );
      expect(truncated).toMatchObject({ status: 400, body: { error: 'invalid_compressed_body' } });
    },
  );

  it('inflates Falco NDJSON, streamed chunked in small pieces', async () => {
    const ndjson = Buffer.from(
      `${[falcoAlert(), falcoAlert({ rule: 'Terminal shell in container' })].map((a) => JSON.stringify(a)).join('\n')}\n`,
    );
    const packed = zlib.gzipSync(ndjson);
    // One byte at a time at first: the deflate/zlib sniffing and the inflater see tiny chunks.
    const pieces = [packed.subarray(0, 1), packed.subarray(1, 2), packed.subarray(2, 7), packed.subarray(7)];
    const res = await post(
      '/v1/falco',
      { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      Readable.from(pieces),
    );
    expect(res).toEqual({ status: 200, body: { accepted: 2, rejected: [] } });
  });

  it('applies the route’s limit to the inflated size: under it passes, over it is a 413', async () => {
    // 0.9 MiB of JSON for /v1/falco (limit 1 MiB) compresses to a few KiB either way.
    const alert = (pad: number) => Buffer.from(JSON.stringify(falcoAlert({ pad: 'x'.repeat(pad) })));
    const under = await post('/v1/falco', json('gzip'), zlib.gzipSync(alert(900 * 1024)));
    expect(under.status).toBe(200);
    const over = await post('/v1/falco', json('gzip'), zlib.gzipSync(alert(1100 * 1024)));
    expect(over.status).toBe(413);
    expect(over.body).toMatchObject({ error: 'payload_too_large' });
    expect(String(over.body.reason)).toContain('decompressed');
  });

  it('answers a gzip bomb (1 MiB that inflates to 1 GiB) with 413, without holding the gibibyte', {
    timeout: 60_000,
  }, async () => {
    // gzip members may follow one another (RFC 1952 §2.2): one member of 1 MiB of zeros, 1024 times.
    const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
    expect(bomb.length).toBeLessThan(1.1 * MiB);
    const before = await rejected('too_large');
    const rss = process.memoryUsage().rss;
    const res = await post('/v1/audit', json('gzip'), bomb);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'payload_too_large' });
    expect(await rejected('too_large')).toBe(before + 1);
    // Inflating it all would grow the process by a gibibyte; stopping at the limit costs about the limit.
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MiB);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('answers a single-frame zstd bomb (1 GiB of zeros) with 413', { timeout: 60_000 }, async () => {
    const bomb = await compressedZeros(zlib.createZstdCompress(), 1024 * MiB);
    const res = await post('/v1/audit', json('zstd'), bomb);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'payload_too_large' });
  });

  it('answers a deflate bomb sent chunked with 413', { timeout: 60_000 }, async () => {
    const bomb = await compressedZeros(zlib.createDeflate({ level: 9 }), 256 * MiB);
    const stream = new PassThrough();
    const sent = post('/v1/audit', json('deflate'), stream);
    for (let i = 0; i < bomb.length; i += 4096) stream.write(bomb.subarray(i, i + 4096));
    stream.end();
    const res = await sent;
    expect(res.status).toBe(413);
  });

  it.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['zstd', zlib.zstdCompressSync],
  ] as const)(
    'answers a truncated %s stream with 400 invalid_compressed_body, counted',
    async (encoding, pack) => {
      const packed = pack(batch());
      const before = await rejected('decompress');
      const res = await post('/v1/audit', json(encoding), packed.subarray(0, packed.length - 8));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_compressed_body' });
      expect(await rejected('decompress')).toBe(before + 1);
    },
  );

  it('answers bytes that are not what the header says with 400 invalid_compressed_body', async () => {
    const res = await post('/v1/audit', json('gzip'), batch());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_compressed_body' });
  });

  it.each(['br', 'compress', 'gzip, zstd', 'snappy'])(
    'answers Content-Encoding %s with 415, counted',
    async (encoding) => {
      const before = await rejected('encoding');
      const res = await post('/v1/audit', json(encoding), zlib.gzipSync(batch()));
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ error: 'unsupported_encoding' });
      expect(String(res.body.reason)).toContain('gzip, deflate, zstd');
      expect(await rejected('encoding')).toBe(before + 1);
    },
  );

  it('inflates nothing for a sender without a credential', async () => {
    const res = await post('/v1/audit', { ...json('snappy'), authorization: 'Bearer nope' }, batch());
    expect(res.status).toBe(401);
  });

  it('a 413 keeps the connection usable: the next request on it is answered', async () => {
    const member = zlib.gzipSync(Buffer.alloc(MiB));
    const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer, encoding: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/audit',
            agent,
            headers: {
              authorization: `Bearer ${TOKENS.prod}`,
              ...json(encoding),
              'content-length': body.length,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    expect(await send(bomb, 'gzip')).toBe(413);
    expect(await send(zlib.zstdCompressSync(batch()), 'zstd')).toBe(200);
    agent.destroy();
  });
});

describe('decodeBody', () => {
  it('stops inflating at the limit: what it lets through is never more than the limit', async () => {
    const member = zlib.gzipSync(Buffer.alloc(MiB));
    const source = Readable.from(Array.from({ length: 64 }, () => member));
    const out = decodeBody(source, 'gzip', 3 * MiB);
    let through = 0;
    out.on('data', (c: Buffer) => {
      through += c.length;
    });
    const [err] = (await once(out, 'error')) as [BodyDecodeError];
    expect(err).toBeInstanceOf(BodyDecodeError);
    expect(err.statusCode).toBe(413);
    expect(through).toBeLessThanOrEqual(3 * MiB);
  });

  it('counts the encoded bytes it read (Fastify checks them against Content-Length)', async () => {
    const packed = zlib.gzipSync(Buffer.from('{"a":1}'));
    const out = decodeBody(Readable.from([packed]), 'gzip', MiB);
    const chunks: Buffer[] = [];
    for await (const c of out) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{"a":1}');
    expect(out.receivedEncodedLength).toBe(packed.length);
  });

  it('reads the header as a list in the order the encodings were applied', () => {
    expect(parseContentEncoding(undefined)).toEqual([]);
    expect(parseContentEncoding(' GZip ')).toEqual(['gzip']);
    expect(parseContentEncoding('identity')).toEqual([]);
    expect(parseContentEncoding('x-gzip, identity, zstd')).toEqual(['gzip', 'zstd']);
  });
});
