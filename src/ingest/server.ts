import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '../bus/index.ts';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import type { SourceRoutes } from '../sources/types.ts';
import { buildIngestApp } from './app.ts';
import { type AuthConfig, loadClientSubjects, TokenTable } from './auth.ts';
import type { EventPublisher } from './publisher.ts';

/** How the ingest listener will run, decided from settings before anything starts. */
export interface ListenPlan {
  host: string;
  port: number;
  auth: AuthConfig;
  https?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Set when no credentials were configured and a token was made up for cluster `local`. */
  generatedToken?: string;
}

export class UnsafeListenError extends Error {
  override name = 'UnsafeListenError';
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function readSetting(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UnsafeListenError(`${name} ${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads the credentials and TLS files and picks the address. With no tokens file and no
 * mTLS, Klaxon listens on loopback only with a generated token: it never opens to the
 * network without authentication.
 */
export function planListener(settings: Settings): ListenPlan {
  const { ingest } = settings;
  const { tls } = ingest;
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    throw new UnsafeListenError('KLAXON_TLS_CERT and KLAXON_TLS_KEY must be set together');
  }
  if (tls.ca && !tls.cert)
    throw new UnsafeListenError('KLAXON_TLS_CA (mTLS) needs KLAXON_TLS_CERT and KLAXON_TLS_KEY');
  const https =
    tls.cert && tls.key
      ? {
          cert: readSetting('KLAXON_TLS_CERT', tls.cert),
          key: readSetting('KLAXON_TLS_KEY', tls.key),
          ...(tls.ca ? { ca: readSetting('KLAXON_TLS_CA', tls.ca) } : {}),
        }
      : undefined;
  const clientSubjects = tls.ca ? loadClientSubjects(tls.clients, tls.clientsFile) : {};
  if (tls.ca && Object.keys(clientSubjects).length === 0) {
    throw new UnsafeListenError(
      'KLAXON_TLS_CA is set but no client certificate maps to a cluster (KLAXON_TLS_CLIENTS)',
    );
  }
  const tokens = ingest.tokensFile ? TokenTable.fromFile(ingest.tokensFile) : undefined;
  const configured = tokens !== undefined || Object.keys(clientSubjects).length > 0;
  const host = ingest.host ?? (configured ? '0.0.0.0' : '127.0.0.1');
  if (configured) {
    return { host, port: ingest.port, auth: { tokens, clientSubjects }, https };
  }
  if (!isLoopback(host)) {
    throw new UnsafeListenError(
      `refusing to listen on ${host} without authentication: set KLAXON_TOKENS_FILE or mTLS (KLAXON_TLS_CA + KLAXON_TLS_CLIENTS)`,
    );
  }
  const generatedToken = randomBytes(24).toString('base64url');
  return {
    host,
    port: ingest.port,
    auth: { tokens: new TokenTable({ local: generatedToken }) },
    https,
    generatedToken,
  };
}

export interface RunningIngest {
  app: FastifyInstance;
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  close(): Promise<void>;
}

/** Builds the ingest app from a plan and listens. */
export async function startIngestServer(options: {
  settings: Settings;
  plan: ListenPlan;
  bus: Bus;
  logger: Logger;
  publisher?: EventPublisher;
  sourceProblems?: () => string[];
  sourceRoutes?: SourceRoutes[];
}): Promise<RunningIngest> {
  const { plan } = options;
  const app = await buildIngestApp({
    settings: options.settings,
    bus: options.bus,
    publisher: options.publisher,
    auth: plan.auth,
    logger: options.logger,
    https: plan.https,
    sourceProblems: options.sourceProblems,
    sourceRoutes: options.sourceRoutes,
  });
  await app.listen({ host: plan.host, port: plan.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : plan.port;
  const shownHost = plan.host.includes(':') ? `[${plan.host}]` : plan.host;
  const url = `${plan.https ? 'https' : 'http'}://${shownHost}:${port}`;
  return { app, url, close: () => app.close() };
}
