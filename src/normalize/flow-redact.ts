import { isRecord, REDACTED } from './redact.ts';

/**
 * Secrets an L7 flow can carry: Hubble copies HTTP request headers and URLs
 * from the proxy's access log, and redacts nothing unless `hubble.redact` is
 * turned on in Cilium. Header values of credential headers, the password of a
 * URL's user info and the values of credential-looking query parameters are
 * replaced before a flow leaves the normalizer. Copy-on-write.
 */

const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-access-token',
  'x-amz-security-token',
  'x-goog-iam-authorization-token',
  'x-vault-token',
  'x-csrf-token',
  'x-xsrf-token',
  'private-token',
]);

/** Query parameters that carry credentials (AWS/GCS/Azure signed URLs, OAuth, API keys). */
const SECRET_PARAM = /token|secret|passw|pwd|key|sig|credential|auth|session|code/i;

const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i;

/** Redacts the password of a URL's user info and the values of credential query parameters. */
function redactUrl(url: string): string {
  let out = url.replace(USER_INFO, `$1:${REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const end = hash < 0 ? out.length : hash;
  const params = out
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq > 0 && SECRET_PARAM.test(pair.slice(0, eq)) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
    });
  out = `${out.slice(0, q + 1)}${params.join('&')}${out.slice(end)}`;
  return out;
}

function redactHeaders(headers: unknown, path: string, redacted: string[]): unknown {
  if (!Array.isArray(headers)) return headers;
  let out: unknown[] | undefined;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i];
    if (!isRecord(header) || typeof header.key !== 'string' || typeof header.value !== 'string') continue;
    if (!SECRET_HEADERS.has(header.key.toLowerCase()) || header.value === REDACTED) continue;
    out ??= headers.slice();
    out[i] = { ...header, value: REDACTED };
    redacted.push(`${path}/${i}/value`);
  }
  return out ?? headers;
}

/** The flow with the secrets of its `l7.http` replaced, and the JSON pointers of what was replaced. */
export function redactFlow(flow: Record<string, unknown>): {
  value: Record<string, unknown>;
  redacted: string[];
} {
  const l7 = flow.l7;
  if (!isRecord(l7) || !isRecord(l7.http)) return { value: flow, redacted: [] };
  const http = l7.http;
  const redacted: string[] = [];
  const headers = redactHeaders(http.headers, '/l7/http/headers', redacted);
  const url = typeof http.url === 'string' ? redactUrl(http.url) : http.url;
  if (url !== http.url) redacted.push('/l7/http/url');
  if (redacted.length === 0) return { value: flow, redacted };
  const copy: Record<string, unknown> = { ...http };
  if (headers !== http.headers) copy.headers = headers;
  if (url !== http.url) copy.url = url;
  return { value: { ...flow, l7: { ...l7, http: copy } }, redacted };
}
