import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { GOOGLE_JWKS_URL } from './pubsub-push-settings.ts';

/** Whether a request's OIDC token is the push subscription's, and if not, how to answer. */
export type TokenCheck =
  | { ok: true }
  | { ok: false; status: 401 | 403; reason: string }
  /** The token could not be checked now (the signing keys cannot be fetched): the sender should retry. */
  | { ok: false; status: 503; reason: string; cause: unknown };

export interface PushTokenSettings {
  audience: string;
  serviceAccountEmail: string;
  issuers: string[];
  jwksUrl?: string | undefined;
  jwksFile?: string | undefined;
}

/** jose error codes that mean the token is bad (anything else means it could not be checked). */
const BAD_TOKEN = new Set<string>([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWTInvalid.code,
  errors.JWSInvalid.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
]);
/** Google's push tokens are a little over 1 KiB; nothing legitimate comes near this. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** A token naming a key the file does not hold makes it be read again (key rotation), at most this often. */
const FILE_RELOAD_MS = 30_000;
/** Clock skew tolerated on `exp`, `iat` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 30;

function keySet(text: string, path: string): ReturnType<typeof createLocalJWKSet> {
  try {
    return createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
  } catch (err) {
    throw new Error(`jwksFile ${path}: not a JSON Web Key Set (${(err as Error).message})`);
  }
}

/** The keys of a local JWKS file: read now (a missing or broken file stops the start), again when a key is missing. */
function fileKeys(path: string): JWTVerifyGetKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`jwksFile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let keys = keySet(text, path);
  let reloadedAt = Number.NEGATIVE_INFINITY;
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - reloadedAt < FILE_RELOAD_MS) throw err;
      reloadedAt = Date.now();
      keys = keySet(await readFile(path, 'utf8'), path);
      return keys(header, token);
    }
  };
}

/**
 * Verifies the OIDC token a Pub/Sub push subscription sends (`Authorization: Bearer <JWT>`): an RS256 signature by a
 * key of the JWKS (Google's, fetched and cached by jose; or a local file), one of the issuers, the audience, not
 * expired, and `email` the subscription's service account with `email_verified`.
 */
export class PushTokenVerifier {
  private readonly settings: PushTokenSettings;
  private readonly keys: JWTVerifyGetKey;

  constructor(settings: PushTokenSettings) {
    this.settings = settings;
    this.keys = settings.jwksFile
      ? fileKeys(settings.jwksFile)
      : createRemoteJWKSet(new URL(settings.jwksUrl ?? GOOGLE_JWKS_URL), {
          timeoutDuration: 5_000,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        });
  }

  async check(authorization: string | undefined): Promise<TokenCheck> {
    const token = /^Bearer +([A-Za-z0-9_.-]+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (token === undefined) return { ok: false, status: 401, reason: 'no bearer token' };
    if (token.length > MAX_TOKEN_CHARS) return { ok: false, status: 401, reason: 'the token is too long' };
    let email: unknown;
    let verified: unknown;
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuers,
        audience: this.settings.audience,
        algorithms: ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat'],
      });
      email = payload.email;
      verified = payload.email_verified;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && BAD_TOKEN.has(code))
        return { ok: false, status: 401, reason: `invalid token: ${(err as Error).message}` };
      return { ok: false, status: 503, reason: 'the token cannot be verified now', cause: err };
    }
    if (email !== this.settings.serviceAccountEmail || verified !== true)
      return { ok: false, status: 403, reason: "the token is not the push subscription's service account" };
    return { ok: true };
  }
}
