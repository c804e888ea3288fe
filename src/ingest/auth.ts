import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Who sent a request. The credential names the cluster; the payload never does, so a
 * compromised cluster cannot write events in another cluster's name.
 */
export type AuthResult =
  | { ok: true; cluster: string; via: 'token' | 'mtls' }
  | { ok: false; status: 401 | 403; error: string; reason: string };

const ClusterName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'cluster names are 1-63 letters, digits, ".", "_" or "-"');
const Token = z.string().min(1, 'empty token');

/** `cluster: token` or `cluster: [token, ...]` (several tokens during a rotation). */
export const TokensFile = z.record(ClusterName, z.union([Token, z.array(Token).min(1)]));

/** `subject CN or DNS SAN: cluster`. */
export const ClientSubjects = z.record(z.string().min(1), ClusterName);

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

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
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`KLAXON_TOKENS_FILE ${path}: ${(err as Error).message}`);
    }
    const parsed = TokensFile.safeParse(doc ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // Never echo the file's values: they are secrets.
      throw new Error(
        `KLAXON_TOKENS_FILE ${path}: expected a mapping "cluster: token" or "cluster: [tokens]"` +
          (issue ? ` (at "${issue.path.join('.')}": ${issue.message})` : ''),
      );
    }
    return new TokenTable(parsed.data);
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

/**
 * Decides the cluster behind a request from its credential, before the body is read.
 * A bearer token, when present, must be valid; otherwise a verified client certificate
 * whose subject is mapped in config.
 */
export function authenticate(req: AuthRequest, config: AuthConfig): AuthResult {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = BEARER.exec(header);
    if (!m)
      return {
        ok: false,
        status: 401,
        error: 'unauthorized',
        reason: 'Authorization must be "Bearer <token>"',
      };
    const cluster = config.tokens?.lookup(m[1]!);
    if (cluster === undefined)
      return { ok: false, status: 401, error: 'unauthorized', reason: 'unknown token' };
    return { ok: true, cluster, via: 'token' };
  }
  if (isTlsSocket(req.socket) && req.socket.getPeerCertificate()?.subject) {
    if (!req.socket.authorized) {
      return {
        ok: false,
        status: 401,
        error: 'unauthorized',
        reason: `client certificate not trusted: ${String(req.socket.authorizationError ?? 'unverified')}`,
      };
    }
    const names = certificateNames(req.socket);
    for (const name of names) {
      const cluster = config.clientSubjects?.[name];
      if (cluster !== undefined) return { ok: true, cluster, via: 'mtls' };
    }
    return {
      ok: false,
      status: 403,
      error: 'forbidden',
      reason: `client certificate ${names[0] ?? '(no subject)'} is not mapped to a cluster`,
    };
  }
  return {
    ok: false,
    status: 401,
    error: 'unauthorized',
    reason: 'no credential: send a bearer token or a client certificate',
  };
}

/** Merges `KLAXON_TLS_CLIENTS` with the YAML file `KLAXON_TLS_CLIENTS_FILE`. */
export function loadClientSubjects(
  inline: Record<string, string>,
  file: string | undefined,
): Record<string, string> {
  const fromFile = file ? ClientSubjects.parse(parseYaml(readFileSync(file, 'utf8')) ?? {}) : {};
  return { ...fromFile, ...ClientSubjects.parse(inline) };
}
