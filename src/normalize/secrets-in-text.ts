/**
 * Secrets inside text: command lines (an exec's `command=` arguments, a container's `command`/`args`) and URLs
 * (`requestURI`, URLs inside commands). Pure functions; the marker is the one the object redaction uses.
 *
 * A value is replaced by the marker, and its name kept (rules and people still see WHAT was set), when:
 * - its NAME says it holds a secret — an option (`--password=x`, `--password x`), a variable (`PGPASSWORD=x`,
 *   `AWS_SECRET_ACCESS_KEY=x`), a query parameter (`?token=x`, `X-Amz-Signature=x`, `sig=x`), a JSON key
 *   (`{"password":"x"}`), a header (`X-Api-Key: x`, `Authorization: Bearer x`), a connection-string part
 *   (`AccountKey=x;`). Names that point at a secret rather than hold one stay (`--token-file`, `--password-stdin`,
 *   `secretName`, `X-aws-ec2-metadata-token-ttl-seconds`), and so do values that are shell expansions
 *   (`TOKEN=$(cat /var/run/secrets/…/token)`: the path is evidence, not a secret);
 * - it has the SHAPE of a credential wherever it appears: `Bearer …`/`Basic …`, a JWT, a URL password
 *   (`https://user:…@host`), GitHub/GitLab/Slack/npm/Vault/Stripe tokens and Google API keys;
 * - a TOOL's convention makes it one: `mysql -p…` (and mariadb, mysqldump …), `sshpass -p`, `mongo -p`,
 *   `redis-cli -a`, `curl -u user:…`, `kubectl create secret --from-literal=k=…`,
 *   `aws configure set aws_secret_access_key …`.
 *
 * Heuristic by nature: it errs towards redacting too much (an option named like a secret loses its value) rather
 * than too little. Everything is linear in the input (no backtracking-prone patterns).
 */

export const REDACTED = '[REDACTED]';

/** Substrings of a normalized name (lower case, letters and digits only) that say "this holds a secret". */
const SECRET_WORDS = [
  'passw',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'privatekey',
  'signature',
  'credential',
  'creds',
  'cookie',
  'authorization',
  'sessionid',
];
/** Whole normalized names that hold a secret. */
const SECRET_NAMES = new Set(['key', 'sig', 'pass', 'auth', 'pw']);
/** Names that merely point at a secret, or describe one, end like this. */
const POINTER_SUFFIXES = [
  'file',
  'path',
  'dir',
  'stdin',
  'name',
  'ttl',
  'ttlseconds',
  'env',
  'type',
  'length',
  'expiry',
  'expiration',
  'expires',
  'ref',
  'url',
  'hash',
  'publickey',
  // Settings that describe how secrets are handled (`password_encryption = scram-sha-256`).
  'encryption',
  'algorithm',
  'policy',
  'mode',
  'enabled',
  'required',
  'timeout',
  'lifetime',
  'rotation',
  'strength',
];
/** `PWD`/`OLDPWD` are the shell's directories. */
const NOT_SECRET = new Set(['pwd', 'oldpwd']);

const nameCache = new Map<string, boolean>();
const NAME_CACHE_MAX = 4096;

function classify(n: string): boolean {
  if (n === '' || NOT_SECRET.has(n)) return false;
  if (SECRET_NAMES.has(n)) return true;
  if (n.startsWith('no') && n.length > 2 && classify(n.slice(2))) return false;
  for (const s of POINTER_SUFFIXES) if (n.endsWith(s)) return false;
  if (n.endsWith('key')) return true;
  for (const w of SECRET_WORDS) if (n.includes(w)) return true;
  return false;
}

/** Whether an option, variable, parameter, header or key of this name holds a secret value. */
export function isSecretName(name: string): boolean {
  const cached = nameCache.get(name);
  if (cached !== undefined) return cached;
  const verdict = classify(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
  if (nameCache.size >= NAME_CACHE_MAX) nameCache.clear();
  nameCache.set(name, verdict);
  return verdict;
}

/** Placeholders of configuration files and templates: `<changeme>`, `{{ .Values.password }}`, `%(pw)s`, `%PW%`, `***`. */
const PLACEHOLDER = /^(?:<[^>]*>|\{\{|%[({]|%\w+%|\*+$)/;

/** `$VAR`, `${VAR}`, `$(cmd)`, backticks and placeholders name a value; they are not one. */
export function isExpansion(value: string): boolean {
  const v = value.replace(/^(?:bearer|basic|token)\s+/i, '');
  return v.startsWith('$') || v.startsWith('`') || PLACEHOLDER.test(v);
}

const QUOTES = /^['"]+|['"]+$/g;

function core(token: string): string {
  return token.replace(QUOTES, '');
}

/** Replaces a token's content, keeping the quotes around it. */
function replaceCore(token: string, replacement: string): string {
  const lead = /^['"]*/.exec(token)?.[0] ?? '';
  const trail = token.length > lead.length ? (/['"]*$/.exec(token)?.[0] ?? '') : '';
  return `${lead}${replacement}${trail}`;
}

interface ToolContext {
  /** mysql and friends take the password glued to `-p`. */
  mysql: boolean;
  /** sshpass and the mongo shells take it after `-p`. */
  dashP: boolean;
  /** redis-cli takes it after `-a`. */
  redis: boolean;
}

const MYSQL = /\b(?:mysql[a-z_-]*|mariadb[a-z_-]*)\b/i;
const DASH_P = /\b(?:sshpass|mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport)\b/i;
const REDIS = /\bredis-cli\b/i;

function toolContext(text: string): ToolContext {
  return { mysql: MYSQL.test(text), dashP: DASH_P.test(text), redis: REDIS.test(text) };
}

const FLAG = /^-{1,2}([A-Za-z][A-Za-z0-9_.-]*)$/;
const USER_FLAGS = new Set(['-u', '--user', '--proxy-user', '-U']);
const AWS_CONFIG_KEYS = new Set(['aws_secret_access_key', 'aws_session_token']);

/** `user:password` → `user:[REDACTED]`. */
function userPassword(value: string): string {
  const colon = value.indexOf(':');
  return colon < 0 || colon === value.length - 1 ? value : `${value.slice(0, colon + 1)}${REDACTED}`;
}

/**
 * Values that sit in the token after their option (`--password x`, `sshpass -p x`, `redis-cli -a x`, `curl -u u:p`)
 * or glued to it (`mysql -px`). Returns the same array when nothing changed.
 */
function redactTokens(tokens: readonly string[], ctx: ToolContext, step: number): readonly string[] {
  let out: string[] | undefined;
  const set = (i: number, value: string) => {
    out ??= tokens.slice();
    out[i] = value;
  };
  for (let i = 0; i < tokens.length; i += step) {
    const c = core(tokens[i]!);
    const next = i + step < tokens.length ? tokens[i + step]! : undefined;
    const nextCore = next === undefined ? '' : core(next);
    const valueFollows =
      next !== undefined && nextCore !== '' && !nextCore.startsWith('-') && !isExpansion(nextCore);
    const flag = FLAG.exec(c);
    if (flag && isSecretName(flag[1]!) && valueFollows) set(i + step, replaceCore(next, REDACTED));
    else if (AWS_CONFIG_KEYS.has(c.toLowerCase()) && valueFollows) set(i + step, replaceCore(next, REDACTED));
    else if (USER_FLAGS.has(c) && valueFollows && nextCore.includes(':'))
      set(i + step, replaceCore(next, userPassword(nextCore)));
    else if (/^--(?:proxy-)?user=/.test(c))
      set(i, replaceCore(tokens[i]!, c.replace(/:.*$/, `:${REDACTED}`)));
    else if (ctx.dashP && c === '-p' && valueFollows) set(i + step, replaceCore(next, REDACTED));
    else if (ctx.redis && c === '-a' && valueFollows) set(i + step, replaceCore(next, REDACTED));
    else if ((ctx.mysql || ctx.dashP) && c.length > 2 && c.startsWith('-p') && !c.startsWith('-p$'))
      set(i, replaceCore(tokens[i]!, `-p${REDACTED}`));
  }
  return out ?? tokens;
}

// Credentials with a shape of their own, wherever they appear.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@'"]*):([^\s/?#@'"]+)@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+|%20|\+)([A-Za-z0-9._~+/=-]{6,})/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g;
const TOKEN_FORMATS =
  /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|npm_[A-Za-z0-9]{30,}|hvs\.[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{16,}|AIza[A-Za-z0-9_-]{35})/g;
// Named values: JSON keys (possibly with escaped quotes inside a shell string), headers, name=value pairs.
const JSON_PAIR = /(\\?"([A-Za-z0-9_.-]{1,64})\\?"\s*:\s*\\?")([^"\\]*)(\\?")/g;
const HEADER = /(^|[\s'"])([A-Za-z][A-Za-z0-9-]{1,63})(\s*:\s*)([^'"\r\n]*)/g;
const PAIR = /(^|[^A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_.-]{0,63})=((?:'[^']*'|"[^"]*"|[^\s'"&;])*)/g;
/** `password = x` (configuration files, properties): spaces around `=`, the value a bare word. */
const SPACED_PAIR =
  /(^|[^A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]{0,63})([ \t]+=[ \t]*|=[ \t]+)([^\s'"\\,;&=]+)/g;

function pairValue(name: string, value: string): string {
  if (value === '' || value === REDACTED) return value;
  if (isSecretName(name)) return isExpansion(core(value)) ? value : REDACTED;
  const eq = value.indexOf('=');
  if (eq <= 0) return value;
  // `--from-literal=key=value` creates a Secret: every value is one. `--env=PASSWORD=x`: the inner name decides.
  const inner = value.slice(0, eq);
  const rest = value.slice(eq + 1);
  if (name.toLowerCase() === 'from-literal' || isSecretName(inner))
    return rest === '' || isExpansion(core(rest)) ? value : `${inner}=${REDACTED}`;
  return value;
}

/** Text without any of these (an option, a name=value, a header, a URL, a known token prefix) has nothing to redact. */
const CANDIDATE = /[-=:@]|bearer|basic|eyj|gh[pousr]_|github_pat|glpat|xox|npm_|hvs\.|sk_live|aiza|aws_s/i;

function redactPatterns(text: string): string {
  return text
    .replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(AUTH_SCHEME, (_m, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(TOKEN_FORMATS, REDACTED)
    .replace(JSON_PAIR, (m, open: string, name: string, value: string, close: string) =>
      isSecretName(name) && value !== '' && !isExpansion(value) ? `${open}${REDACTED}${close}` : m,
    )
    .replace(HEADER, (m, lead: string, name: string, sep: string, value: string) =>
      isSecretName(name) && value.trim() !== '' && !isExpansion(value)
        ? `${lead}${name}${sep}${REDACTED}`
        : m,
    )
    .replace(PAIR, (m, lead: string, name: string, value: string) => {
      const v = pairValue(name, value);
      return v === value ? m : `${lead}${name}=${v}`;
    })
    .replace(SPACED_PAIR, (m, lead: string, name: string, sep: string, value: string) =>
      isSecretName(name) && value !== REDACTED && !isExpansion(value) ? `${lead}${name}${sep}${REDACTED}` : m,
    );
}

/** A command line or any free text (a shell script, a header, a URL) with its secret values replaced. */
export function redactText(text: string): string {
  if (!CANDIDATE.test(text)) return text;
  const parts = text.split(/(\s+)/);
  const tokens = redactTokens(parts, toolContext(text), 2);
  const joined = tokens === parts ? text : tokens.join('');
  return redactPatterns(joined);
}

/**
 * An argument vector (exec `command=` parameters, a container's `command` + `args`) with its secret values
 * replaced: across arguments (`--password`, `x`), then inside each one (`sh -c "mysql -px …"`). Returns the same
 * array when nothing changed.
 */
export function redactArgs(args: readonly string[]): readonly string[] {
  const across = redactTokens(args, toolContext(args.join(' ')), 1);
  let out: string[] | undefined;
  for (let i = 0; i < across.length; i++) {
    const arg = across[i]!;
    const next = redactText(arg);
    if (next !== args[i]) {
      out ??= args.slice();
      out[i] = next;
    }
  }
  return out ?? args;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component.replaceAll('+', ' '));
  } catch {
    return component;
  }
}

function encode(value: string): string {
  return encodeURIComponent(value).replaceAll('%5BREDACTED%5D', REDACTED);
}

/** Only values that could carry a credential shape are scanned (the name decides for the rest). */
const SHAPED = /eyJ|%40|@|bearer|basic/i;

/**
 * A request URI (`/path?query`) with the values of credential-like query parameters replaced, and an exec's
 * `command=` arguments redacted as one argument vector. Untouched parameters keep their exact encoding; returns
 * the same string when nothing changed.
 */
export function redactRequestUri(uri: string): string {
  const q = uri.indexOf('?');
  if (q < 0) return uri;
  const parts = uri.slice(q + 1).split('&');
  const commandAt: number[] = [];
  const command: string[] = [];
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const rawName = part.slice(0, eq);
    const rawValue = part.slice(eq + 1);
    const name = rawName.includes('%') ? decode(rawName) : rawName;
    if (name === 'command') {
      commandAt.push(i);
      command.push(decode(rawValue));
    } else if (rawValue !== '' && isSecretName(name)) {
      if (isExpansion(decode(rawValue)) || rawValue === REDACTED) continue;
      parts[i] = `${rawName}=${REDACTED}`;
      changed = true;
    } else if (SHAPED.test(rawValue)) {
      const value = decode(rawValue);
      const red = redactText(value);
      if (red !== value) {
        parts[i] = `${rawName}=${encode(red)}`;
        changed = true;
      }
    }
  }
  if (command.length > 0) {
    const red = redactArgs(command);
    for (let k = 0; k < red.length; k++) {
      if (red[k] === command[k]) continue;
      parts[commandAt[k]!] = `command=${encode(red[k]!)}`;
      changed = true;
    }
  }
  return changed ? `${uri.slice(0, q + 1)}${parts.join('&')}` : uri;
}

/**
 * Whether the string value of a JSON key of this name is a secret (`password`, `apiKey`, `clientSecret`,
 * `token`, `Authorization` in a header map). `key` alone is not: Kubernetes uses it for label keys, taints,
 * tolerations and the key NAME of a `secretKeyRef`. A prefixed annotation or label key is judged by its name
 * after the prefix: `authorization.k8s.io/decision` is a decision, `openshift.io/token-secret.value` a secret.
 */
export function isSecretKey(name: string): boolean {
  const own = name.slice(name.lastIndexOf('/') + 1);
  return own !== 'key' && own !== 'Key' && isSecretName(own);
}

/**
 * One of these appears in any text `redactText` changes: a secret-like name (`pass`, `pw`, `token`, `key`,
 * `sig`, `auth`, `cred`, `cookie`, `session`, …), a tool that takes a password (`mysql -p…`), or a credential
 * shape. Testing it first keeps the cost of scanning every string of a payload low.
 */
const MAY_HOLD_SECRET =
  /pass|pw|secret|token|key|sig|cred|cookie|auth|session|literal|mysql|mariadb|mongo|redis|-u\s|-U\s|--user|--proxy-user|bearer|basic|eyJ|gh[pousr]_|github_pat|glpat|xox|npm_|hvs\.|sk_live|AIza|:\/\/[^\s/?#@]*:[^\s/?#@]*@/i;

/** A URI with a query inside text (`curl https://api/x?token=…`, `uri=/api/v1/…/exec?command=…`). */
const URI_IN_TEXT = /[^\s'"`<>]*\?[^\s'"`<>]*=[^\s'"`<>]*/g;

/**
 * Any string of a payload whose meaning is not known (an annotation, a ConfigMap value, a field of a custom
 * resource, a Falco `output` or output field) with its secret values replaced. Text with spaces is read as a
 * command line or header lines (`redactText`); a single word only for what has a credential shape or names
 * itself a secret — a URI's query parameters, a URL's password, a JWT, a token format, `name=value` — so an
 * identifier such as the image `token-service:1.2` stays as it is. Returns the same string when nothing changed.
 */
export function redactFreeText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  const uris = text.includes('?') ? text.replace(URI_IN_TEXT, (uri) => redactRequestUri(uri)) : text;
  if (/\s/.test(uris)) return redactText(uris);
  const out = redactWord(uris);
  return out === text ? text : out;
}

function redactWord(word: string): string {
  return word
    .replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(JWT, REDACTED)
    .replace(TOKEN_FORMATS, REDACTED)
    .replace(JSON_PAIR, (m, open: string, name: string, value: string, close: string) =>
      isSecretName(name) && value !== '' && !isExpansion(value) ? `${open}${REDACTED}${close}` : m,
    )
    .replace(PAIR, (m, lead: string, name: string, value: string) => {
      const v = pairValue(name, value);
      return v === value ? m : `${lead}${name}=${v}`;
    });
}
