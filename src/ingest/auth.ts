import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config.ts';
import { ClusterName } from '../schema/cluster.ts';

/**
 * Who sent a request. The credential names the cluster; the payload never does, so a
 * compromised cluster cannot write events in another cluster's name.
 */
export type AuthResult =
  | { ok: true; cluster: string; via: 'token' | 'mtls' }
  | { ok: false; status: 400 | 401 | 403; error: string; reason: string };

/** The shortest bearer token accepted: 32 characters, e.g. `openssl rand -base64 32` gives 44. */
export const MIN_TOKEN_LENGTH = 32;

const Token = z
  .string()
  .regex(/^[\x21-\x7e]+$/, 'tokens are visible ASCII characters without spaces')
  .min(MIN_TOKEN_LENGTH, `tokens need at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)`)
  .refine((t) => new Set(t).size >= 10, 'tokens need at least 10 different characters');

/** `cluster: token` or `cluster: [token, ...]` (several tokens during a rotation). */
export const TokensFile = z.record(ClusterName, z.union([Token, z.array(Token).min(1)]));

/** `subject CN or DNS SAN: cluster`. */
export const ClientSubjects = z.record(z.string().min(1), ClusterName);

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Reads a YAML file of credentials. Errors name the file, the line and the column, never the text: the
 * line a parser would quote holds a token, and a mistyped path may point at any file on the machine.
 */
export function readCredentialsFile(setting: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${setting} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    const e = err as { code?: string; linePos?: Array<{ line: number; col: number }> };
    const at = e.linePos?.[0];
    throw new ConfigError(
      `${setting} ${path}: not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}${e.code ? ` (${e.code})` : ''}`,
    );
  }
}

/**
 * Validates a credentials document. A problem is located by entry number, never by key or value: in a
 * tokens file written the wrong way round, the key is the secret.
 */
export function parseCredentials<T>(
  setting: string,
  path: string,
  schema: z.ZodType<T>,
  doc: unknown,
  expected: string,
): T {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const keys = doc !== null && typeof doc === 'object' ? Object.keys(doc) : [];
  const entry = issue && typeof issue.path[0] === 'string' ? keys.indexOf(issue.path[0]) : -1;
  const where = entry >= 0 ? ` (entry ${entry + 1}: ${issue!.message})` : '';
  throw new ConfigError(`${setting} ${path}: expected ${expected}${where}`);
}

/** Bearer tokens by cluster, compared in constant time. */
export class TokenTable {
  private readonly entries: Array<{ digest: Buffer; cluster: string }> = [];

  constructor(mapping: z.infer<typeof TokensFile>) {
    const seen = new Map<string, string>();
    for (const [cluster, value] of Object.entries(TokensFile.parse(mapping))) {
      for (const token of Array.isArray(value) ? value : [value]) {
        const d = digest(token);
        const other = seen.get(d.toString('hex'));
        if (other !== undefined && other !== cluster) {
          throw new Error(`the same token is configured for clusters "${other}" and "${cluster}"`);
        }
        seen.set(d.toString('hex'), cluster);
        this.entries.push({ digest: d, cluster });
      }
    }
  }

  static fromFile(path: string): TokenTable {
    const doc = readCredentialsFile('KLAXON_TOKENS_FILE', path);
    return new TokenTable(
      parseCredentials(
        'KLAXON_TOKENS_FILE',
        path,
        TokensFile,
        doc,
        'a mapping "cluster: token" or "cluster: [tokens]"',
      ),
    );
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The cluster a token belongs to. Hashing first makes every comparison the same length,
   * and every entry is compared, so timing tells neither the token's length nor which entry matched.
   */
  lookup(token: string): string | undefined {
    const d = digest(token);
    let found: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(d, entry.digest) && found === undefined) found = entry.cluster;
    }
    return found;
  }
}

export interface AuthConfig {
  tokens?: TokenTable;
  /** Verified client certificate subject CN or DNS SAN → cluster. */
  clientSubjects?: Record<string, string>;
}

interface AuthRequest {
  headers: { authorization?: string | undefined };
  /** Name/value pairs as received: Node keeps only the first of duplicated Authorization headers. */
  rawHeaders?: readonly string[];
  socket: unknown;
}

/** Identities a verified client certificate carries: subject CN first, then DNS SANs. */
export function certificateNames(socket: TLSSocket): string[] {
  const cert = socket.getPeerCertificate();
  const names: string[] = [];
  const cn = cert?.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const san of (cert?.subjectaltname ?? '').split(',')) {
    const s = san.trim();
    if (s.startsWith('DNS:')) names.push(s.slice(4));
  }
  return names;
}

function isTlsSocket(socket: unknown): socket is TLSSocket {
  return (
    typeof socket === 'object' && socket !== null && (socket as { encrypted?: unknown }).encrypted === true
  );
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** How many Authorization headers a request carries (Node keeps only the first in `headers`). */
export function countAuthorization(rawHeaders: readonly string[] | undefined): number {
  let n = 0;
  for (let i = 0; rawHeaders && i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'authorization') n++;
  }
  return n;
}

const unauthorized = (reason: string): AuthResult => ({
  ok: false,
  status: 401,
  error: 'unauthorized',
  reason,
});

type CertificateResult = { cluster: string } | { refusal: AuthResult } | undefined;

/** The cluster of a presented client certificate, a refusal, or undefined when none was presented. */
function certificateCluster(socket: unknown, config: AuthConfig): CertificateResult {
  if (!isTlsSocket(socket) || !socket.getPeerCertificate()?.subject) return undefined;
  if (!socket.authorized) {
    return {
      refusal: unauthorized(
        `client certificate not trusted: ${String(socket.authorizationError ?? 'unverified')}`,
      ),
    };
  }
  const names = certificateNames(socket);
  const clusters = new Set<string>();
  for (const name of names) {
    const cluster = config.clientSubjects?.[name];
    if (cluster !== undefined) clusters.add(cluster);
  }
  if (clusters.size === 1) return { cluster: [...clusters][0]! };
  const reason =
    clusters.size > 1
      ? `client certificate ${names[0] ?? '(no subject)'} names several clusters (${[...clusters].sort().join(', ')}): map only one of its names`
      : `client certificate ${names[0] ?? '(no subject)'} is not mapped to a cluster`;
  return { refusal: { ok: false, status: 403, error: 'forbidden', reason } };
}

/**
 * Decides the cluster behind a request from its credential, before the body is read: a bearer token or a
 * verified client certificate whose subject is mapped in config. Anything ambiguous is refused, so a proxy
 * or a second reader of the same request can never settle on another cluster than Klaxon did: two
 * Authorization headers, a certificate whose names map to several clusters, or a token and a certificate
 * of different clusters.
 */
export function authenticate(req: AuthRequest, config: AuthConfig): AuthResult {
  if (countAuthorization(req.rawHeaders) > 1) {
    return {
      ok: false,
      status: 400,
      error: 'ambiguous_credentials',
      reason: 'more than one Authorization header',
    };
  }
  const cert = certificateCluster(req.socket, config);
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = BEARER.exec(header);
    if (!m) return unauthorized('Authorization must be "Bearer <token>"');
    const cluster = config.tokens?.lookup(m[1]!);
    if (cluster === undefined) return unauthorized('unknown token');
    if (cert && 'cluster' in cert && cert.cluster !== cluster) {
      return {
        ok: false,
        status: 400,
        error: 'ambiguous_credentials',
        reason: 'the bearer token and the client certificate belong to different clusters',
      };
    }
    return { ok: true, cluster, via: 'token' };
  }
  if (cert) return 'cluster' in cert ? { ok: true, cluster: cert.cluster, via: 'mtls' } : cert.refusal;
  return unauthorized('no credential: send a bearer token or a client certificate');
}

/** Merges `KLAXON_TLS_CLIENTS` with the YAML file `KLAXON_TLS_CLIENTS_FILE`. */
export function loadClientSubjects(
  inline: Record<string, string>,
  file: string | undefined,
): Record<string, string> {
  const expected = 'a mapping "certificate subject: cluster"';
  const fromFile = file
    ? parseCredentials(
        'KLAXON_TLS_CLIENTS_FILE',
        file,
        ClientSubjects,
        readCredentialsFile('KLAXON_TLS_CLIENTS_FILE', file),
        expected,
      )
    : {};
  return {
    ...fromFile,
    ...parseCredentials('KLAXON_TLS_CLIENTS', '(environment)', ClientSubjects, inline, expected),
  };
}
