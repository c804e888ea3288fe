/**
 * Removes what must never leave the normalizer: Secret values, service-account
 * tokens, credential values in ConfigMaps and container environments (see
 * credentials.ts), and the `kubectl.kubernetes.io/last-applied-configuration`
 * annotation (it repeats the whole object, Secret data included).
 *
 * Secret `data`/`stringData`: every value becomes `"[REDACTED]"` and the key
 * names stay, so rules can still ask which keys were written.
 *
 * Command lines (`command`/`args` arrays of containers, probes and hooks, the
 * `requestURI` of an exec) lose their secret values (secrets-in-text.ts); the
 * rest of the text stays. Anywhere in a payload (but in the parts of an audit
 * event that name who acted on what): a string under a credential-like key
 * (`password`, `apiKey`, `Authorization` in a header map) is dropped, so is the
 * value of a name/value pair named like a secret or holding a credential
 * (`env` entries, probe `httpHeaders`, header modifiers), and every other
 * string loses the secrets inside its text (query parameters of URLs, bearer
 * tokens, `--password=…`, JWTs, `Cookie:` lines — `redactFreeText`).
 *
 * Copy-on-write: the input is never modified; objects on the path to a change
 * are shallow-copied, everything else is shared with the input. Callers may
 * reuse the input, but must not mutate the result's shared parts either.
 *
 * Hostile input: a subtree deeper than MAX_DEPTH becomes `"[TRUNCATED]"` (this
 * also bounds recursion, and so the stack, and breaks cycles); keys named
 * `__proto__` are copied as own properties, never through the prototype setter.
 */

import { isCredentialValue } from './credentials.ts';
import {
  isExpansion,
  isSecretKey,
  REDACTED,
  redactArgs,
  redactFreeText,
  redactRequestUri,
  redactText,
} from './secrets-in-text.ts';

export { REDACTED } from './secrets-in-text.ts';
export const TRUNCATED = '[TRUNCATED]';
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** Deeper than any real Kubernetes object (CRD schemas included). */
export const MAX_DEPTH = 100;
/** At most this many paths are listed in `klaxon.redacted`; values beyond it are still redacted. */
export const MAX_RECORDED_PATHS = 256;

/** What a request/response body is known to be, from the audit event's `objectRef`. */
export type BodyHint = 'none' | 'secret' | 'configmap' | 'tokenreview' | 'tokenrequest';

type JsonRecord = Record<string, unknown>;

interface WalkState {
  path: (string | number)[];
  redacted: string[];
  /**
   * Whether strings are read for secrets (`redactString`). Off for the parts of an audit event that name who
   * acted on what (`user`, `objectRef`, …): identifiers rules match on, never credentials.
   */
  text: boolean;
}

export interface Sanitized<T> {
  value: T;
  /** JSON pointers (RFC 6901, from the root of the value) of what was removed. */
  redacted: string[];
}

const SECRET_PATCH_PATH = /^\/(data|stringData)(\/|$)/;
const CONFIGMAP_PATCH_PATH = /^\/(data|binaryData)(\/|$)/;
/** A JSON patch writing a container's (or a probe's) command or arguments, whole or one of them. */
const COMMAND_PATCH_PATH = /\/(command|args)(\/(\d+|-))?$/;
const LAST_APPLIED_POINTER = '/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration';

export function isRecord(value: unknown): value is JsonRecord {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Sets an own property even for the key `__proto__` (plain assignment would change the prototype). */
function setOwn(target: JsonRecord, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function copyRecord(source: JsonRecord): JsonRecord {
  const copy: JsonRecord = {};
  for (const key of Object.keys(source)) setOwn(copy, key, source[key]);
  return copy;
}

function pointer(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`;
  return out;
}

function record(st: WalkState, extra?: string): void {
  if (st.redacted.length >= MAX_RECORDED_PATHS) return;
  const base = pointer(st.path);
  st.redacted.push(
    extra === undefined ? base : `${base}/${extra.replaceAll('~', '~0').replaceAll('/', '~1')}`,
  );
}

/** A Secret's `data`/`stringData`: keep the keys, drop every value. */
function redactValues(value: unknown, st: WalkState): unknown {
  if (value === null || value === undefined) return value;
  if (!isRecord(value)) {
    record(st);
    return REDACTED;
  }
  const out: JsonRecord = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === null || v === undefined) {
      setOwn(out, key, v);
    } else {
      setOwn(out, key, REDACTED);
      record(st, key);
    }
  }
  return out;
}

/**
 * A ConfigMap's `data`/`binaryData`: keep the keys, drop the values that are credentials, and the secrets
 * inside the others (a `proxy_set_header Authorization "Bearer …"` line of a config file).
 */
function redactCredentials(value: unknown, st: WalkState): unknown {
  if (!isRecord(value)) return value;
  let out: JsonRecord | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key];
    let next = v;
    if (isCredentialValue(key, v)) next = REDACTED;
    else if (typeof v === 'string') next = redactFreeText(v);
    if (next === v) continue;
    out ??= copyRecord(value);
    setOwn(out, key, next);
    record(st, key);
  }
  return out ?? value;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * A `command`/`args` array: secret values inside the arguments (`--password=x`, `mysql -px`). `args` is read
 * after its container's `command` (`command: [mysql]`, `args: [-px]`): the program decides what `-p` means.
 */
function redactArgList(value: unknown[], st: WalkState, command: readonly string[] = []): unknown[] {
  if (!isStrings(value)) return value;
  const argv = command.length > 0 ? [...command, ...value] : value;
  const red = redactArgs(argv);
  if (red === argv) return value;
  const args = red.slice(command.length);
  let changed = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === value[i]) continue;
    changed = true;
    record(st, String(i));
  }
  return changed ? args : value;
}

/** The credential part of a ConfigMap JSON patch value at `path` (`/data`, `/data/<key>`). */
function redactConfigMapPatch(path: string, value: unknown, st: WalkState): unknown {
  if (path === '/data' || path === '/binaryData') return redactCredentials(value, st);
  const key = path.split('/')[2]?.replaceAll('~1', '/').replaceAll('~0', '~') ?? '';
  if (!isCredentialValue(key, value)) return value;
  record(st);
  return REDACTED;
}

/** Replaces one key's value (e.g. `spec.token` of a TokenReview). */
function redactKey(value: unknown, key: string, depth: number, st: WalkState): unknown {
  if (!isRecord(value) || !Object.hasOwn(value, key)) return walk(value, depth, st, 'none');
  const walked = walk(value, depth, st, 'none');
  const out = walked === value ? copyRecord(value) : (walked as JsonRecord);
  setOwn(out, key, REDACTED);
  record(st, key);
  return out;
}

function dropLastApplied(annotations: JsonRecord, st: WalkState): JsonRecord {
  const out: JsonRecord = {};
  for (const key of Object.keys(annotations)) {
    if (key !== LAST_APPLIED) setOwn(out, key, annotations[key]);
  }
  record(st, LAST_APPLIED);
  return out;
}

function isPatchOp(value: unknown): value is JsonRecord & { op: string; path: string } {
  return isRecord(value) && typeof value.op === 'string' && typeof value.path === 'string';
}

/** One operation of a JSON patch (RFC 6902) sent as the request body. */
function walkPatchOp(
  op: JsonRecord & { path: string },
  depth: number,
  st: WalkState,
  hint: BodyHint,
): unknown {
  if (!Object.hasOwn(op, 'value')) return walk(op, depth, st, 'none');
  const value = op.value;
  const { path } = op;
  let next: unknown;
  st.path.push('value');
  if (hint === 'secret' && SECRET_PATCH_PATH.test(path)) {
    if (isRecord(value) && (path === '/data' || path === '/stringData')) {
      next = redactValues(value, st);
    } else {
      record(st);
      next = REDACTED;
    }
  } else if (hint === 'configmap' && CONFIGMAP_PATCH_PATH.test(path)) {
    next = redactConfigMapPatch(path, value, st);
  } else if (COMMAND_PATCH_PATH.test(path) && (Array.isArray(value) || typeof value === 'string')) {
    if (typeof value === 'string') {
      next = redactText(value);
      if (next !== value) record(st);
    } else next = redactArgList(value, st);
  } else if (path === LAST_APPLIED_POINTER) {
    record(st);
    next = REDACTED;
  } else if (path === '/metadata/annotations' && isRecord(value) && Object.hasOwn(value, LAST_APPLIED)) {
    next = walk(dropLastApplied(value, st), depth + 1, st, 'none');
  } else {
    // A whole-object replacement ('' is the root pointer) is the object itself.
    next = walk(value, depth + 1, st, path === '' || path === '/' ? hint : 'none');
  }
  st.path.pop();
  const rest = walk(op, depth, st, 'none', 'value');
  const out = rest === op ? copyRecord(op) : (rest as JsonRecord);
  if (next !== value) setOwn(out, 'value', next);
  return next === value && rest === op ? op : out;
}

function walkArray(value: unknown[], depth: number, st: WalkState, hint: BodyHint): unknown {
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    st.path.push(i);
    const next =
      typeof item === 'string'
        ? redactString(undefined, item, st)
        : isPatchOp(item)
          ? walkPatchOp(item, depth + 1, st, hint)
          : walk(item, depth + 1, st, hint);
    st.path.pop();
    if (next !== item) {
      out ??= value.slice();
      out[i] = next;
    }
  }
  return out ?? value;
}

/** `kubectl get secrets` asks for a Table; with `includeObject=Object` each row carries the Secret. */
function walkTableRows(rows: unknown, depth: number, st: WalkState, hint: BodyHint): unknown {
  if (!Array.isArray(rows)) return walk(rows, depth, st, 'none');
  let out: unknown[] | undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    st.path.push(i);
    let next: unknown;
    if (isRecord(row) && Object.hasOwn(row, 'object')) {
      st.path.push('object');
      const object = walk(row.object, depth + 2, st, hint);
      st.path.pop();
      const rest = walk(row, depth + 1, st, 'none', 'object');
      const copy = rest === row ? copyRecord(row) : (rest as JsonRecord);
      setOwn(copy, 'object', object);
      next = object === row.object && rest === row ? row : copy;
    } else {
      next = walk(row, depth + 1, st, 'none');
    }
    st.path.pop();
    if (next !== row) {
      out ??= rows.slice();
      out[i] = next;
    }
  }
  return out ?? rows;
}

/**
 * @param skipKey a key the caller handles itself (a patch op's `value`, a table
 *   row's `object`); only the rest is walked.
 */
function walk(value: unknown, depth: number, st: WalkState, hint: BodyHint, skipKey?: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) {
    record(st);
    return TRUNCATED;
  }
  if (Array.isArray(value)) return walkArray(value, depth, st, hint);
  const obj = value as JsonRecord;
  const kind = obj.kind;
  const isSecret = hint === 'secret' || kind === 'Secret';
  const isConfigMap = hint === 'configmap' || kind === 'ConfigMap';
  const isTokenReview = hint === 'tokenreview' || kind === 'TokenReview';
  const isTokenRequest = hint === 'tokenrequest' || kind === 'TokenRequest';
  let out: JsonRecord | undefined;
  for (const key of Object.keys(obj)) {
    if (key === skipKey) continue;
    const child = obj[key];
    st.path.push(key);
    let next: unknown;
    if (isSecret && (key === 'data' || key === 'stringData')) {
      next = redactValues(child, st);
    } else if (isConfigMap && (key === 'data' || key === 'binaryData')) {
      next = redactCredentials(child, st);
    } else if (isTokenReview && key === 'spec') {
      next = redactKey(child, 'token', depth + 1, st);
    } else if (isTokenRequest && key === 'status') {
      next = redactKey(child, 'token', depth + 1, st);
    } else if (key === 'annotations' && isRecord(child) && Object.hasOwn(child, LAST_APPLIED)) {
      next = walk(dropLastApplied(child, st), depth + 1, st, 'none');
    } else if ((key === 'command' || key === 'args') && Array.isArray(child)) {
      next = redactArgList(child, st, key === 'args' && isStrings(obj.command) ? obj.command : undefined);
    } else if (hint !== 'none' && key === 'items') {
      next = walk(child, depth + 1, st, hint);
    } else if (hint !== 'none' && key === 'rows') {
      next = walkTableRows(child, depth + 1, st, hint);
    } else if (typeof child === 'string') {
      next = redactString(key, child, st);
    } else {
      next = walk(child, depth + 1, st, 'none');
    }
    st.path.pop();
    if (next !== child) {
      out ??= copyRecord(obj);
      setOwn(out, key, next);
    }
  }
  return redactPair(out ?? obj, obj, st);
}

/**
 * Keys whose values the API server validates as names, enums, quantities, image references, paths of a
 * mount or timestamps: never text that could hold a secret. Most strings of an object are under one of
 * these, and skipping them keeps the cost of reading every other string low.
 */
const IDENTIFIER_KEYS = new Set([
  'name',
  'namespace',
  'generateName',
  'uid',
  'resourceVersion',
  'apiVersion',
  'apiGroup',
  'kind',
  'creationTimestamp',
  'deletionTimestamp',
  'lastTransitionTime',
  'startTime',
  'time',
  'manager',
  'operation',
  'fieldsType',
  'fieldPath',
  'image',
  'imagePullPolicy',
  'imageID',
  'containerID',
  'restartPolicy',
  'dnsPolicy',
  'schedulerName',
  'serviceAccountName',
  'nodeName',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'mountPath',
  'protocol',
  'scheme',
  'operator',
  'effect',
  'phase',
  'qosClass',
  'type',
  'cpu',
  'memory',
  'podIP',
  'hostIP',
  // Label and taint keys, and the key NAME of a secretKeyRef.
  'key',
]);

/**
 * A string of a payload: the whole value when its key says it is a secret (`password`, `clientSecret`,
 * `Authorization` in a header map), else the secrets inside its text (secrets-in-text.ts, `redactFreeText`).
 */
function redactString(key: string | undefined, value: string, st: WalkState): string {
  if (!st.text || value === '' || value === REDACTED) return value;
  if (key !== undefined && IDENTIFIER_KEYS.has(key)) return value;
  if (key !== undefined && isSecretKey(key) && !isExpansion(value)) {
    record(st);
    return REDACTED;
  }
  const next = redactFreeText(value);
  if (next !== value) record(st);
  return next;
}

/**
 * A name/value (or key/value) pair — an HTTP header of a probe (`httpGet.httpHeaders`), of a Gateway API
 * header modifier or a custom resource, an environment variable anywhere — whose name says it holds a secret,
 * or whose value looks like a credential: the value goes.
 */
function redactPair(current: JsonRecord, original: JsonRecord, st: WalkState): JsonRecord {
  if (!st.text) return current;
  const value = original.value;
  const name = typeof original.name === 'string' ? original.name : original.key;
  if (typeof value !== 'string' || typeof name !== 'string' || current.value === REDACTED) return current;
  if (!isCredentialValue(name, value) || isExpansion(value)) return current;
  const out = current === original ? copyRecord(original) : current;
  // A value already changed inside (`Bearer [REDACTED]`) is listed once.
  if (out.value === value) record(st, 'value');
  setOwn(out, 'value', REDACTED);
  return out;
}

/**
 * Parts of an audit event that say who did what to what, and the API server's own annotations (the
 * authorization decision and reason): identifiers and verdicts rules match on, read as they are.
 */
const IDENTITY_PARTS = new Set([
  'annotations',
  'kind',
  'apiVersion',
  'level',
  'auditID',
  'stage',
  'verb',
  'user',
  'impersonatedUser',
  'sourceIPs',
  'userAgent',
  'objectRef',
  'requestReceivedTimestamp',
  'stageTimestamp',
]);

/** The body hint for an audit event's `objectRef`. */
export function bodyHint(resource: string | undefined, subresource: string | undefined): BodyHint {
  if (resource === 'secrets' && !subresource) return 'secret';
  if (resource === 'configmaps' && !subresource) return 'configmap';
  if (resource === 'tokenreviews') return 'tokenreview';
  if (resource === 'serviceaccounts' && subresource === 'token') return 'tokenrequest';
  return 'none';
}

/**
 * Redacts an audit event: its `requestObject`/`responseObject` are read as the
 * resource `objectRef` names (so a Secret merge patch without `kind` is still a
 * Secret); every other part gets the generic treatment.
 */
export function redactAuditEvent(event: JsonRecord, hint: BodyHint): Sanitized<JsonRecord> {
  const st: WalkState = { path: [], redacted: [], text: true };
  let out: JsonRecord | undefined;
  for (const key of Object.keys(event)) {
    const child = event[key];
    st.path.push(key);
    const bodyKey = key === 'requestObject' || key === 'responseObject';
    let next: unknown;
    if (key === 'requestURI' && typeof child === 'string') {
      next = redactRequestUri(child);
      if (next !== child) record(st);
    } else {
      st.text = !IDENTITY_PARTS.has(key);
      next =
        typeof child === 'string'
          ? redactString(key, child, st)
          : walk(child, 1, st, bodyKey ? hint : 'none');
      st.text = true;
    }
    st.path.pop();
    if (next !== child) {
      out ??= copyRecord(event);
      setOwn(out, key, next);
    }
  }
  return { value: out ?? event, redacted: st.redacted };
}

/**
 * The generic treatment alone (depth bound, Secrets found by `kind`, last-applied annotations, secrets under
 * credential-like keys, in name/value pairs and inside text).
 */
export function sanitizeJson<T>(value: T): Sanitized<T> {
  const st: WalkState = { path: [], redacted: [], text: true };
  return { value: walk(value, 0, st, 'none') as T, redacted: st.redacted };
}
