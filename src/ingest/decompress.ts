import { PassThrough, type Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngestError } from './errors.ts';
import type { RejectReason } from './rejections.ts';

/**
 * `Content-Encoding` of request bodies, for every route of the ingest server (the ones registered later by
 * source types too): gzip (what Fluent Bit, Vector and Firehose send), deflate (zlib-wrapped as HTTP says, or
 * raw as some senders write it) and zstd. The body is inflated as it arrives, and the route's body limit
 * applies to the inflated bytes: the first byte over it stops the inflater and answers 413, so a small body
 * that would inflate to gigabytes costs the limit, not the gigabytes. An encoding not listed is a 415.
 */
export const CONTENT_ENCODINGS = ['gzip', 'deflate', 'zstd'] as const;
type Encoding = (typeof CONTENT_ENCODINGS)[number];

/**
 * The largest zstd window a body may ask for: 2^23 = 8 MiB, what RFC 8878 §3.1.1.1.2 recommends decoders
 * support. Without it a frame may make the decoder allocate 128 MiB (zstd's own default limit) per request.
 */
export const ZSTD_WINDOW_LOG_MAX = 23;

/** A request refused while its body was being read: the status and code of the errors table, and the metric reason. */
export class BodyDecodeError extends Error {
  override name = 'BodyDecodeError';
  readonly error: IngestError;
  readonly reject: RejectReason;
  readonly statusCode: number;

  constructor(error: IngestError, reject: RejectReason, statusCode: number, message: string) {
    super(message);
    this.error = error;
    this.reject = reject;
    this.statusCode = statusCode;
  }
}

/** The encodings a header names, in the order they were applied; `identity` adds none. */
export function parseContentEncoding(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity')
    .map((e) => (e === 'x-gzip' ? 'gzip' : e));
}

function isEncoding(name: string): name is Encoding {
  return (CONTENT_ENCODINGS as readonly string[]).includes(name);
}

/** zlib's header (RFC 1950): a deflate method nibble and a check making the first two bytes a multiple of 31. */
function isZlibHeader(first: Buffer): boolean {
  return first.length >= 2 && (first[0]! & 0x0f) === 8 && ((first[0]! << 8) | first[1]!) % 31 === 0;
}

function inflater(encoding: Encoding, first: Buffer): Transform {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return isZlibHeader(first) ? zlib.createInflate() : zlib.createInflateRaw();
    case 'zstd':
      return zlib.createZstdDecompress({
        params: { [zlib.constants.ZSTD_d_windowLogMax]: ZSTD_WINDOW_LOG_MAX },
      });
  }
}

function tooLarge(limit: number): BodyDecodeError {
  return new BodyDecodeError(
    'payload_too_large',
    'too_large',
    413,
    `decompressed request body exceeds the limit of ${limit} bytes`,
  );
}

/** What Fastify reads the body from: the inflated bytes, and how many encoded bytes arrived (its length check). */
type Decoded = PassThrough & { receivedEncodedLength: number };

/**
 * The inflated body of `raw`, at most `limit` bytes of it (and of the encoded body). Stops at the first byte
 * over the limit, or at a corrupt or truncated stream, with a BodyDecodeError; the rest of the encoded body is
 * then read and dropped without inflating it, so the client gets the answer rather than a reset.
 */
export function decodeBody(raw: Readable, encoding: Encoding, limit: number): Decoded {
  const out = Object.assign(new PassThrough(), { receivedEncodedLength: 0 });
  let decoded = 0;
  let failed = false;
  let stage: Transform | undefined;
  // `deflate` comes zlib-wrapped or raw: its first two bytes tell which.
  let head: Buffer[] = [];
  let headBytes = 0;

  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    raw.removeListener('data', onRaw);
    raw.removeListener('end', onRawEnd);
    stage?.destroy();
    raw.resume();
    out.destroy(err);
  };
  const corrupt = (err: Error) =>
    fail(
      new BodyDecodeError(
        'invalid_compressed_body',
        'decompress',
        400,
        `the body is not valid ${encoding} data: ${err.message}`,
      ),
    );
  const start = (first: Buffer): Transform => {
    const s = inflater(encoding, first);
    s.on('error', corrupt);
    s.on('data', (chunk: Buffer) => {
      decoded += chunk.length;
      if (decoded > limit) return fail(tooLarge(limit));
      if (!out.write(chunk)) s.pause();
    });
    out.on('drain', () => s.resume());
    s.on('end', () => {
      if (!failed) out.end();
    });
    return s;
  };
  const feed = (chunk: Buffer) => {
    stage ??= start(chunk);
    if (!stage.write(chunk)) {
      raw.pause();
      stage.once('drain', () => {
        if (!failed) raw.resume();
      });
    }
  };
  const onRaw = (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
    if (out.receivedEncodedLength > limit) return fail(tooLarge(limit));
    if (stage !== undefined) return feed(chunk);
    head.push(chunk);
    headBytes += chunk.length;
    if (headBytes < 2) return;
    const first = Buffer.concat(head);
    head = [];
    feed(first);
  };
  const onRawEnd = () => {
    if (failed) return;
    if (stage === undefined && headBytes > 0) feed(Buffer.concat(head));
    if (stage === undefined) return corrupt(new Error('empty body'));
    stage.end();
  };
  raw.on('data', onRaw);
  raw.on('end', onRawEnd);
  raw.on('error', fail);
  return out;
}

function hasBody(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Adds the decoding to every route of `app` (a root-level `preParsing` hook, so routes registered in any
 * plugin get it). Runs after the guards' `onRequest` hooks: nothing is inflated for a sender without a
 * credential.
 */
export function decompressBodies(app: FastifyInstance): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!hasBody(request)) return payload;
    const encodings = parseContentEncoding(request.headers['content-encoding']);
    if (encodings.length === 0) return payload;
    const [encoding] = encodings;
    if (encodings.length > 1 || !isEncoding(encoding!)) {
      throw new BodyDecodeError(
        'unsupported_encoding',
        'encoding',
        415,
        `content encoding ${encodings.join(', ')} is not accepted; send one of ${CONTENT_ENCODINGS.join(', ')}, or none`,
      );
    }
    return decodeBody(payload, encoding as Encoding, request.routeOptions.bodyLimit);
  });
}
