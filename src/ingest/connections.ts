import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Server, Socket } from 'node:net';
import { ingestRejected, ingestRequests } from '../metrics.ts';
import type { RejectReason } from './rejections.ts';

/** File descriptors kept free for Kafka, Elasticsearch, the spool and logs when connections are capped. */
const RESERVED_FDS = 256;

/** The soft limit on open files (Linux `/proc/self/limits`), or undefined where it cannot be read. */
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

export interface ConnectionLimits {
  /** Open connections in all. */
  max: number;
  /** Open connections from one remote address. */
  perAddress: number;
}

/** The connection cap actually used: the configured one, lowered so connections can never use every descriptor. */
export function effectiveMaxConnections(configured: number, fdLimit = openFilesLimit()): number {
  if (fdLimit === undefined) return configured;
  return Math.max(16, Math.min(configured, fdLimit - RESERVED_FDS));
}

/**
 * Caps connections in all and per remote address, closing a connection over either cap at once. Without
 * caps, idle connections from one host (no token needed to open one) exhaust the file descriptors and
 * every request fails, `/healthz` and the Kafka producer included.
 */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.max;
  const byAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = (byAddress.get(address) ?? 0) + 1;
    if (open > limits.perAddress) {
      ingestRejected.inc({ source: 'connection', reason: 'too_many' });
      socket.destroy();
      return;
    }
    byAddress.set(address, open);
    socket.once('close', () => {
      const left = (byAddress.get(address) ?? 1) - 1;
      if (left <= 0) byAddress.delete(address);
      else byAddress.set(address, left);
    });
  });
}

/** What a client error (raised by Node's HTTP parser or its timers, before any route) is answered with. */
export function classifyClientError(code: string | undefined): {
  status: number;
  error: string;
  reason: string;
  metric: RejectReason;
} {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return {
        status: 408,
        error: 'request_timeout',
        reason: 'the request was not complete in time',
        metric: 'timeout',
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: 'headers_too_large',
        reason: 'the request headers are too large',
        metric: 'too_large',
      };
    default:
      return {
        status: 400,
        error: 'bad_request',
        reason: `malformed HTTP request${code ? ` (${code})` : ''}`,
        metric: 'bad_request',
      };
  }
}

/**
 * Answers errors Node raises outside any route (malformed requests, header overflow, request timeouts)
 * with the same `{error, reason}` body as every other error, counts them, and closes the connection.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, error, reason, metric } = classifyClientError(err.code);
  ingestRequests.inc({ endpoint: 'none', code: String(status) });
  ingestRejected.inc({ source: 'http', reason: metric });
  const body = JSON.stringify({ error, reason });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
