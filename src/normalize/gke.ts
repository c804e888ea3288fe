/**
 * A GKE Cloud Audit Logs entry → the `audit.k8s.io/v1` Event the API server
 * wrote before GKE wrapped it, as far as the entry tells (docs/gke.md lists what
 * it does not). Pure; never throws; nothing is invented: what the entry does not
 * carry stays absent.
 */
import { isIP } from 'node:net';
import { AUDIT_LOG_TYPE, type GkeAuditLog, GkeLogEntry } from '../schema/gke.ts';
import { describeIssue } from './reason.ts';
import { isRecord } from './redact.ts';

/** The cluster an entry names (its `resource.labels`): for the caller to use or not. */
export interface GkeCluster {
  projectId?: string;
  location?: string;
  name?: string;
}

export type GkeConversion =
  | { ok: true; event: Record<string, unknown>; cluster: GkeCluster }
  | { ok: false; reason: string };

/** The object the request named, and the path it was sent to. */
interface Target {
  objectRef?: Record<string, string>;
  requestURI: string;
  subresource?: string;
}

/** HTTP statuses of google.rpc.Code, as google/rpc/code.proto maps them. */
const RPC_TO_HTTP: Record<number, number> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};
const RPC_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

/** Subresources whose successful requests upgrade the connection (101 Switching Protocols). */
const STREAMING = new Set(['exec', 'attach', 'portforward']);
const VERB = /^[a-z]+$/;
const STATUS_TYPE = 'core.k8s.io/v1.Status';
const MAX_LABELS = 128;
const DECISION = 'authorization.k8s.io/decision';

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * `io.k8s.<group…>.<version>.<resource>[.<subresource>].<verb>` — or, for a
 * non-resource path (`/healthz`, `/version`), `io.k8s.<verb>`.
 */
function splitMethod(methodName: string): { verb: string; rest: string[] } | undefined {
  if (!methodName.startsWith('io.k8s.')) return undefined;
  const parts = methodName.slice('io.k8s.'.length).split('.');
  const verb = parts.pop();
  if (verb === undefined || !VERB.test(verb)) return undefined;
  return { verb, rest: parts };
}

/**
 * `resourceName` is `<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`
 * (group `core` for the legacy API). Whether `namespaces/x` opens a namespaced path or
 * names the Namespace `x` itself is told by the method, which names the resource.
 */
function parseTarget(resourceName: string, methodRest: string[], verb: string): Target | undefined {
  const segs = resourceName.split('/');
  const [groupSeg, version] = segs;
  if (!groupSeg || !version || segs.length < 3) return undefined;
  const group = groupSeg === 'core' ? '' : groupSeg;
  const at = methodRest.lastIndexOf(version);
  const methodResource = at >= 0 ? methodRest[at + 1] : undefined;
  const methodSub = at >= 0 && methodRest.length > at + 2 ? methodRest.slice(at + 2).join('.') : undefined;

  const rest = segs.slice(2);
  const namespaced = rest[0] === 'namespaces' && methodResource !== 'namespaces' && rest.length >= 3;
  const namespace = namespaced ? rest[1] : undefined;
  const [resource, name, sub, ...beyond] = namespaced ? rest.slice(2) : rest;
  if (!resource || namespace === '' || name === '' || sub === '') return undefined;
  const subresource = sub ?? methodSub;

  // The API server leaves apiGroup out for the legacy (core) group.
  const objectRef: Record<string, string> = { resource };
  if (namespace) objectRef.namespace = namespace;
  if (name) objectRef.name = name;
  if (group !== '') objectRef.apiGroup = group;
  objectRef.apiVersion = version;
  if (subresource) objectRef.subresource = subresource;

  let uri = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  if (namespace) uri += `/namespaces/${namespace}`;
  uri += `/${resource}`;
  // A create is a POST to the collection: the name the entry gives came from the body.
  if (verb === 'create' && !subresource) return { objectRef, requestURI: uri };
  if (name) uri += `/${name}`;
  // A proxy subresource carries the proxied path after it (nodes/<name>/proxy/metrics).
  if (name && sub) uri += `/${[sub, ...beyond].join('/')}`;
  else if (name && subresource) uri += `/${subresource}`;
  return subresource ? { objectRef, requestURI: uri, subresource } : { objectRef, requestURI: uri };
}

/** The HTTP answer of a request that succeeded, as the API server gives it. */
function okCode(verb: string, subresource: string | undefined): number {
  if (subresource && STREAMING.has(subresource)) return 101;
  return verb === 'create' ? 201 : 200;
}

/**
 * The response status: the API server's own `Status` when the entry carries it
 * (failures at RequestResponse level), else the google.rpc code mapped back.
 * An entry without `status` says nothing of the outcome: none is invented.
 */
function responseStatus(
  payload: GkeAuditLog,
  verb: string,
  subresource: string | undefined,
): Record<string, unknown> | undefined {
  const response = payload.response;
  if (isRecord(response) && (response['@type'] === STATUS_TYPE || response.kind === 'Status')) {
    const code = response.code;
    if (typeof code === 'number' && Number.isInteger(code) && code >= 100 && code <= 599) {
      const out: Record<string, unknown> = { code };
      for (const key of ['status', 'reason', 'message']) {
        const value = str(response[key]);
        if (value) out[key] = value;
      }
      return out;
    }
  }
  if (!isRecord(payload.status)) return undefined;
  const rpc = payload.status.code ?? 0;
  if (rpc === 0) return { code: okCode(verb, subresource) };
  const out: Record<string, unknown> = {
    code: RPC_TO_HTTP[rpc] ?? 500,
    status: 'Failure',
  };
  const message = str(payload.status.message) ?? RPC_NAMES[rpc];
  if (message) out.message = message;
  return out;
}

/**
 * The entry's labels are the API server's audit annotations. Without a decision
 * label, `authorizationInfo[].granted` tells it: true everywhere is allow, an
 * explicit false is forbid; absent (proto3 JSON drops false) is not known.
 */
function annotationsOf(labels: Record<string, unknown> | undefined, authz: unknown[] | undefined) {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (typeof value !== 'string' || key === '__proto__') continue;
    if (++n > MAX_LABELS) break;
    out[key] = value;
  }
  if (out[DECISION] === undefined && authz && authz.length > 0) {
    const granted = authz.map((a) => (isRecord(a) ? a.granted : undefined));
    if (granted.every((g) => g === true)) out[DECISION] = 'allow';
    else if (granted.some((g) => g === false)) out[DECISION] = 'forbid';
  }
  return out;
}

/** A body as the audit event carries it: the object itself, without the `@type` Cloud Logging adds. */
function body(value: Record<string, unknown> | null | undefined): Record<string, unknown> | undefined {
  if (!isRecord(value)) return undefined;
  const { '@type': _type, ...rest } = value;
  return rest;
}

function clusterOf(labels: Record<string, unknown> | undefined): GkeCluster {
  const cluster: GkeCluster = {};
  const projectId = str(labels?.project_id);
  const location = str(labels?.location);
  const name = str(labels?.cluster_name);
  if (projectId) cluster.projectId = projectId;
  if (location) cluster.location = location;
  if (name) cluster.name = name;
  return cluster;
}

/** GKE Cloud Audit Logs `LogEntry` → `audit.k8s.io/v1` Event, plus the cluster the entry names. */
export function gkeEntryToAudit(raw: unknown): GkeConversion {
  try {
    return convert(raw);
  } catch (err) {
    return { ok: false, reason: `cannot convert: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function convert(raw: unknown): GkeConversion {
  if (!isRecord(raw)) return { ok: false, reason: 'expected a JSON object (a LogEntry)' };
  const parsed = GkeLogEntry.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `not a LogEntry: ${describeIssue(parsed.error.issues)}` };
  const entry = parsed.data;
  const payload = entry.protoPayload;
  if (entry.resource.type !== 'k8s_cluster') {
    return {
      ok: false,
      reason: `not a GKE Kubernetes audit entry: resource.type is "${entry.resource.type}"`,
    };
  }
  if (payload['@type'] !== undefined && payload['@type'] !== AUDIT_LOG_TYPE) {
    return { ok: false, reason: `not a Cloud Audit Logs entry: protoPayload.@type is "${payload['@type']}"` };
  }
  if (payload.serviceName !== 'k8s.io') {
    return {
      ok: false,
      reason: 'not a GKE Kubernetes audit entry: protoPayload.serviceName is not "k8s.io"',
    };
  }
  const method = splitMethod(payload.methodName ?? '');
  if (!method) return { ok: false, reason: 'protoPayload.methodName is not a Kubernetes API method' };
  const auditID = str(entry.insertId) ?? str(entry.operation?.id);
  if (!auditID) return { ok: false, reason: 'missing insertId' };

  let target: Target;
  if (method.rest.length === 0) {
    target = { requestURI: `/${payload.resourceName ?? ''}` };
  } else {
    const parsedTarget = parseTarget(payload.resourceName ?? '', method.rest, method.verb);
    if (!parsedTarget)
      return { ok: false, reason: 'protoPayload.resourceName is not a Kubernetes resource path' };
    target = parsedTarget;
  }

  const request = body(payload.request);
  const response = body(payload.response);
  const event: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: response ? 'RequestResponse' : request ? 'Request' : 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: target.requestURI,
    verb: method.verb,
  };
  const username = str(payload.authenticationInfo?.principalEmail);
  event.user = username ? { username } : {};
  const ip = payload.requestMetadata?.callerIp ?? payload.requestMetadata?.callerIP;
  if (ip && isIP(ip) !== 0) event.sourceIPs = [ip];
  const agent = str(payload.requestMetadata?.callerSuppliedUserAgent);
  if (agent) event.userAgent = agent;
  if (target.objectRef) event.objectRef = target.objectRef;
  const status = responseStatus(payload, method.verb, target.subresource);
  if (status) event.responseStatus = status;
  if (request) event.requestObject = request;
  if (response) event.responseObject = response;
  const time = str(entry.timestamp) ?? str(entry.receiveTimestamp);
  if (time) event.stageTimestamp = time;
  const annotations = annotationsOf(entry.labels, payload.authorizationInfo);
  if (Object.keys(annotations).length > 0) event.annotations = annotations;
  return { ok: true, event, cluster: clusterOf(entry.resource.labels) };
}
