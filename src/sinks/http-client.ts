import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';

/**
 * HTTP(S) for the SIEM sinks that speak it (OTLP, Splunk HEC): a private CA and a client
 * certificate when configured, a deadline per request, and the answer read whole (bounded).
 */

export interface HttpTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Collectors answer with a few bytes; more than this is not read. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class HttpClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(tls: HttpTls, timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.agent = new Agent({
      connect: {
        ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
        ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
        rejectUnauthorized: true,
      },
      connections: 4,
    });
  }

  /** Throws on a network error or timeout (the caller retries); any HTTP status is an answer. */
  post(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<HttpAnswer> {
    return this.request(url, { method: 'POST', headers, body });
  }

  get(url: string): Promise<HttpAnswer> {
    return this.request(url, { method: 'GET' });
  }

  private async request(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string },
  ): Promise<HttpAnswer> {
    const response = await fetch(url, {
      ...init,
      dispatcher: this.agent,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const buf = Buffer.from(await response.arrayBuffer());
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body: buf.length > MAX_ANSWER_BYTES ? buf.subarray(0, MAX_ANSWER_BYTES) : buf,
    };
  }

  /** Ends requests in flight too: their alerts stay buffered and are sent again after a restart. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

/** A secret (a token) from a file named in the settings: never from the command line, never logged. */
export function readSecretFile(path: string): string {
  const text = readFileSync(path, 'utf8').trim();
  if (text === '') throw new Error(`${path} is empty`);
  return text;
}
