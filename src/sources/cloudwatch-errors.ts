import { RetryLaterError } from '../ingest/publisher.ts';

/** The `kind` label of `klaxon_cloudwatch_errors_total`: a small fixed set. */
export type CloudWatchErrorKind =
  | 'throttled'
  | 'unavailable'
  | 'credentials'
  | 'access_denied'
  | 'not_found'
  | 'retry_later'
  | 'checkpoint'
  | 'overflow'
  | 'other';

export interface ClassifiedError {
  kind: CloudWatchErrorKind;
  /** For `/readyz` and the log: what is wrong and what to do, never a credential. */
  reason: string;
  /** A fresh client re-reads the credential chain (a rotated web identity token, new keys in the environment). */
  renewClient: boolean;
}

const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RateExceeded',
  'TooManyRequestsException',
]);
const CREDENTIALS = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'TokenRefreshRequired',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
]);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation']);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/** Sorts what a read of `logGroup` threw into a kind, with a reason an operator can act on. */
export function classifyError(err: unknown, logGroup: string): ClassifiedError {
  if (err instanceof RetryLaterError) {
    return {
      kind: 'retry_later',
      reason: `events cannot be made durable now: ${err.message}`,
      renewClient: false,
    };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const name = text(e.name, 'Error');
  const code = text(e.code, '');
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const message = text(e.message, String(err));
  if (name === 'ResourceNotFoundException') {
    return {
      kind: 'not_found',
      reason: `log group ${logGroup} does not exist (deleted, another region, or EKS audit logging is off)`,
      renewClient: false,
    };
  }
  if (THROTTLED.has(name) || status === 429) {
    return {
      kind: 'throttled',
      reason: `CloudWatch Logs throttles the reader (${name})`,
      renewClient: false,
    };
  }
  if (CREDENTIALS.has(name)) {
    return {
      kind: 'credentials',
      reason: `AWS credentials refused or missing (${name}): ${message}`,
      renewClient: true,
    };
  }
  if (ACCESS_DENIED.has(name) || status === 403) {
    return {
      kind: 'access_denied',
      reason: `not allowed to read ${logGroup} (${name}): the role needs logs:FilterLogEvents on it`,
      renewClient: false,
    };
  }
  if (
    NETWORK.has(code) ||
    (status !== undefined && status >= 500) ||
    name === 'ServiceUnavailableException' ||
    name === 'TimeoutError'
  ) {
    return {
      kind: 'unavailable',
      reason: `CloudWatch Logs unreachable or failing (${code || name}${status ? ` ${status}` : ''})`,
      renewClient: false,
    };
  }
  return { kind: 'other', reason: `reading ${logGroup} failed (${name}): ${message}`, renewClient: false };
}

/**
 * Milliseconds to wait after `failures` failed polls in a row: the poll interval doubled each time, up to
 * `maxMs`, with jitter (half to all of it) so replicas and sources do not retry in step. `random` in [0, 1).
 */
export function backoffMs(failures: number, pollMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, pollMs * 2 ** Math.min(failures, 20));
  return Math.max(pollMs, Math.round(ceiling * (0.5 + random / 2)));
}
