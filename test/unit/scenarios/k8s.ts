/**
 * Builders for audit events and Falco alerts shaped the way real senders write them: kube-apiserver v1.28–1.31
 * (plus EKS/GKE/AKS identities), Falco's `json_output` and falcosidekick's payload. Written independently of the
 * catalogue's own fixtures, for the evaluator's scenarios. Deterministic: same calls, same events.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, type RuleSet } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';

export type Json = Record<string, unknown>;

/** 2024-06-11T09:00:00Z: the scenarios' clock starts here. */
export const T0 = Date.UTC(2024, 5, 11, 9, 0, 0);

/** A deterministic UUID v4-looking id from a seed. */
export function uuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** RFC 3339 with microseconds, as the API server writes. */
export function micro(ms: number, extraMicros = 0): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}${String(extraMicros % 1000).padStart(3, '0')}Z`;
}

export interface Actor {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
  sourceIPs: string[];
  userAgent: string;
}

const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';

export function user(
  name: string,
  ip = '198.51.100.23',
  ua = KUBECTL,
  groups = ['developers', 'system:authenticated'],
): Actor {
  return { username: name, uid: uuid(`uid:${name}`), groups, sourceIPs: [ip], userAgent: ua };
}

/** A service account acting with its bound token (user.extra as the API server writes for projected tokens). */
export function serviceAccount(ns: string, name: string, ip: string, ua: string, pod?: string): Actor {
  const extra: Record<string, string[]> = {
    'authentication.kubernetes.io/credential-id': [`JTI=${uuid(`jti:${ns}:${name}`)}`],
  };
  if (pod) {
    extra['authentication.kubernetes.io/pod-name'] = [pod];
    extra['authentication.kubernetes.io/pod-uid'] = [uuid(`pod:${ns}:${pod}`)];
    extra['authentication.kubernetes.io/node-name'] = ['ip-10-0-12-34.eu-west-1.compute.internal'];
    extra['authentication.kubernetes.io/node-uid'] = [uuid('node:ip-10-0-12-34')];
  }
  return {
    username: `system:serviceaccount:${ns}:${name}`,
    uid: uuid(`sa:${ns}:${name}`),
    groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
    extra,
    sourceIPs: [ip],
    userAgent: ua,
  };
}

/** A kube-controller-manager controller's own service account (--use-service-account-credentials). */
export function controller(name: string): Actor {
  return {
    ...serviceAccount(
      'kube-system',
      name,
      '172.18.0.2',
      `kube-controller-manager/v1.30.1 (linux/amd64) kubernetes/6911225/system:serviceaccount:kube-system:${name}`,
    ),
    extra: undefined,
  };
}

export function node(name: string, ip: string): Actor {
  return {
    username: `system:node:${name}`,
    groups: ['system:nodes', 'system:authenticated'],
    sourceIPs: [ip],
    userAgent: 'kubelet/v1.30.1 (linux/amd64) kubernetes/6911225',
  };
}

export interface ObjectRef {
  resource: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  apiVersion?: string;
  subresource?: string;
}

const GROUP_VERSIONS: Record<string, [string, string]> = {
  deployments: ['apps', 'v1'],
  daemonsets: ['apps', 'v1'],
  statefulsets: ['apps', 'v1'],
  replicasets: ['apps', 'v1'],
  controllerrevisions: ['apps', 'v1'],
  jobs: ['batch', 'v1'],
  cronjobs: ['batch', 'v1'],
  roles: ['rbac.authorization.k8s.io', 'v1'],
  clusterroles: ['rbac.authorization.k8s.io', 'v1'],
  rolebindings: ['rbac.authorization.k8s.io', 'v1'],
  clusterrolebindings: ['rbac.authorization.k8s.io', 'v1'],
  leases: ['coordination.k8s.io', 'v1'],
  endpointslices: ['discovery.k8s.io', 'v1'],
  ingresses: ['networking.k8s.io', 'v1'],
  networkpolicies: ['networking.k8s.io', 'v1'],
  certificatesigningrequests: ['certificates.k8s.io', 'v1'],
  mutatingwebhookconfigurations: ['admissionregistration.k8s.io', 'v1'],
  validatingwebhookconfigurations: ['admissionregistration.k8s.io', 'v1'],
  horizontalpodautoscalers: ['autoscaling', 'v2'],
  poddisruptionbudgets: ['policy', 'v1'],
  certificates: ['cert-manager.io', 'v1'],
  certificaterequests: ['cert-manager.io', 'v1'],
  orders: ['acme.cert-manager.io', 'v1'],
  applications: ['argoproj.io', 'v1alpha1'],
  kustomizations: ['kustomize.toolkit.fluxcd.io', 'v1'],
  tokenreviews: ['authentication.k8s.io', 'v1'],
  subjectaccessreviews: ['authorization.k8s.io', 'v1'],
  selfsubjectaccessreviews: ['authorization.k8s.io', 'v1'],
  podmetrics: ['metrics.k8s.io', 'v1beta1'],
  nodemetrics: ['metrics.k8s.io', 'v1beta1'],
  events: ['', 'v1'],
  flowschemas: ['flowcontrol.apiserver.k8s.io', 'v1'],
  priorityinglevelconfigurations: ['flowcontrol.apiserver.k8s.io', 'v1'],
  storageclasses: ['storage.k8s.io', 'v1'],
  csinodes: ['storage.k8s.io', 'v1'],
  volumeattachments: ['storage.k8s.io', 'v1'],
};

/** The request path the API server logs for an object reference (query string appended by the caller). */
export function pathOf(ref: ObjectRef): string {
  const [group, version] = GROUP_VERSIONS[ref.resource] ?? ['', 'v1'];
  const g = ref.apiGroup ?? group;
  const v = ref.apiVersion ?? version;
  let p = g === '' ? `/api/${v}` : `/apis/${g}/${v}`;
  if (ref.namespace) p += `/namespaces/${ref.namespace}`;
  p += `/${ref.resource}`;
  if (ref.name) p += `/${ref.name}`;
  if (ref.subresource) p += `/${ref.subresource}`;
  return p;
}

export interface AuditSpec {
  at: number; // ms since epoch
  actor: Actor | 'anonymous' | 'unauthenticated';
  verb: string;
  ref?: ObjectRef;
  /** The requestURI; defaults to the object path (plus `query`). */
  uri?: string;
  query?: string;
  code?: number;
  level?: 'None' | 'Metadata' | 'Request' | 'RequestResponse';
  stage?: 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';
  requestObject?: unknown;
  responseObject?: unknown;
  annotations?: Record<string, string>;
  impersonatedUser?: { username: string; groups?: string[] };
  message?: string;
  reason?: string;
  /** Same id for the stages of one request. */
  auditID?: string;
  latencyMs?: number;
}

let seq = 0;

/** Restarts the id and timestamp sequence, so a generator gives the same events on every call. */
export function resetIds(): void {
  seq = 0;
}

/** One audit event as the API server's log and webhook backends write it. */
export function audit(s: AuditSpec): Json {
  seq++;
  const ref = s.ref;
  const code = s.code ?? (s.verb === 'create' ? 201 : 200);
  const anonymous = s.actor === 'anonymous';
  const unauthenticated = s.actor === 'unauthenticated';
  const actor = typeof s.actor === 'string' ? undefined : s.actor;
  const ev: Json = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: s.level ?? (s.requestObject === undefined ? 'Metadata' : 'RequestResponse'),
    auditID: s.auditID ?? uuid(`audit:${seq}:${s.at}:${s.verb}`),
    stage: s.stage ?? 'ResponseComplete',
    requestURI: s.uri ?? `${ref ? pathOf(ref) : '/'}${s.query ? `?${s.query}` : ''}`,
    verb: s.verb,
  };
  if (unauthenticated) ev.user = {};
  else if (anonymous) ev.user = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
  else if (actor) {
    const u: Json = { username: actor.username };
    if (actor.uid) u.uid = actor.uid;
    u.groups = actor.groups;
    if (actor.extra) u.extra = actor.extra;
    ev.user = u;
  }
  if (s.impersonatedUser) ev.impersonatedUser = s.impersonatedUser;
  ev.sourceIPs = actor?.sourceIPs ?? ['203.0.113.66'];
  ev.userAgent = actor?.userAgent ?? 'curl/8.5.0';
  if (ref) {
    const [group, version] = GROUP_VERSIONS[ref.resource] ?? ['', 'v1'];
    const o: Json = { resource: ref.resource };
    if (ref.namespace) o.namespace = ref.namespace;
    if (ref.name) o.name = ref.name;
    const g = ref.apiGroup ?? group;
    if (g !== '') o.apiGroup = g;
    o.apiVersion = ref.apiVersion ?? version;
    if (ref.subresource) o.subresource = ref.subresource;
    ev.objectRef = o;
  }
  const status: Json = { metadata: {}, code };
  if (code >= 400) {
    status.status = 'Failure';
    if (s.reason) status.reason = s.reason;
    if (s.message) status.message = s.message;
  }
  ev.responseStatus = status;
  if (s.requestObject !== undefined) ev.requestObject = s.requestObject;
  if (s.responseObject !== undefined) ev.responseObject = s.responseObject;
  const latency = s.latencyMs ?? 7;
  ev.requestReceivedTimestamp = micro(s.at, seq);
  ev.stageTimestamp = micro(s.at + latency, seq + 311);
  ev.annotations =
    s.annotations ?? (unauthenticated ? undefined : allowedBy(actor?.username ?? 'system:anonymous'));
  if (ev.annotations === undefined) delete ev.annotations;
  return ev;
}

export function allowedBy(who: string): Record<string, string> {
  return {
    'authorization.k8s.io/decision': 'allow',
    'authorization.k8s.io/reason': `RBAC: allowed by ClusterRoleBinding "binding-for-${who.split(':').pop()}" of ClusterRole "edit" to User "${who}"`,
  };
}

/** A 403 from the RBAC authorizer, as logged at Metadata level. */
export function forbidden(s: Omit<AuditSpec, 'code' | 'annotations' | 'message' | 'reason'>): Json {
  const actor = s.actor as Actor;
  const r = s.ref!;
  const scope = r.namespace ? ` in the namespace "${r.namespace}"` : ' at the cluster scope';
  const group = r.apiGroup ?? GROUP_VERSIONS[r.resource]?.[0] ?? '';
  const res = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return audit({
    ...s,
    code: 403,
    reason: 'Forbidden',
    message: `${res}${r.name ? ` "${r.name}"` : ''} is forbidden: User "${actor.username}" cannot ${s.verb} resource "${res}" in API group "${group}"${scope}`,
    annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
  });
}

/** A failed authentication: only ResponseStarted, empty user, no annotations. */
export function unauthorized(at: number, ip: string, ua: string, uri: string, verb = 'list'): Json {
  return audit({
    at,
    actor: { username: '', groups: [], sourceIPs: [ip, '10.0.0.10'], userAgent: ua },
    verb,
    uri,
    code: 401,
    stage: 'ResponseStarted',
    reason: 'Unauthorized',
    message: 'Unauthorized',
    annotations: {},
  });
}

/** A container as a pod spec lists it. */
export function container(name: string, image: string, securityContext?: Json, extra: Json = {}): Json {
  const c: Json = {
    name,
    image,
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    ...extra,
  };
  if (securityContext) c.securityContext = securityContext;
  return c;
}

export function podSpec(containers: Json[], extra: Json = {}): Json {
  return {
    containers,
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'default',
    securityContext: {},
    schedulerName: 'default-scheduler',
    ...extra,
  };
}

export function meta(name: string, namespace?: string, extra: Json = {}): Json {
  const m: Json = { name, labels: { 'app.kubernetes.io/name': name.split('-')[0] } };
  if (namespace) m.namespace = namespace;
  return { ...m, ...extra };
}

/** A Deployment / DaemonSet / StatefulSet / ReplicaSet / Job body around a pod spec. */
export function workload(kind: string, name: string, namespace: string, spec: Json): Json {
  const apiVersion = kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
  const template = { metadata: { labels: { app: name } }, spec };
  if (kind === 'CronJob')
    return {
      kind,
      apiVersion,
      metadata: meta(name, namespace),
      spec: {
        schedule: '*/5 * * * *',
        jobTemplate: { spec: { template: { ...template, spec: { ...spec, restartPolicy: 'OnFailure' } } } },
      },
    };
  const body: Json = {
    kind,
    apiVersion,
    metadata: meta(name, namespace),
    spec: { selector: { matchLabels: { app: name } }, template },
  };
  if (kind === 'Job')
    body.spec = { backoffLimit: 0, template: { ...template, spec: { ...spec, restartPolicy: 'Never' } } };
  if (kind === 'Deployment' || kind === 'StatefulSet' || kind === 'ReplicaSet')
    (body.spec as Json).replicas = 2;
  return body;
}

/** A Falco alert as Falco's json_output writes it (no uuid), for a container in a pod. */
export function falcoAlert(
  at: number,
  rule: string,
  priority: string,
  ns: string,
  pod: string,
  extra: Json = {},
): Json {
  const time = `${new Date(at).toISOString().slice(0, 23)}123456Z`;
  return {
    hostname: 'ip-10-0-12-34',
    output: `${time.slice(11, 19)}.123456789: ${priority} A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh proc_exepath=/bin/busybox parent=runc command=sh terminal=34816 exe_flags=EXE_WRITABLE container_id=3c1e7d9b0f2a container_image=docker.io/library/nginx container_image_tag=1.25.4 container_name=web k8s_ns=${ns} k8s_pod_name=${pod})`,
    output_fields: {
      'container.id': '3c1e7d9b0f2a',
      'container.image.repository': 'docker.io/library/nginx',
      'container.image.tag': '1.25.4',
      'container.name': 'web',
      'evt.time': at * 1_000_000 + 123456,
      'evt.type': 'execve',
      'k8s.ns.name': ns,
      'k8s.pod.name': pod,
      'proc.cmdline': 'sh',
      'proc.exepath': '/bin/busybox',
      'proc.name': 'sh',
      'proc.pname': 'runc',
      'proc.tty': 34816,
      'user.loginuid': -1,
      'user.name': 'root',
      'user.uid': 0,
      ...extra,
    },
    priority,
    rule,
    source: 'syscall',
    tags: ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell'],
    time,
  };
}

/** The same alert as falcosidekick forwards it (uuid, string fields). */
export function falcosidekick(at: number, rule: string, priority: string, ns: string, pod: string): Json {
  const a = falcoAlert(at, rule, priority, ns, pod);
  return { uuid: uuid(`sidekick:${at}:${rule}:${pod}`), ...a, hostname: 'falco-x7k2p' };
}

/** Writes events as JSON lines into a fresh temporary file; returns its path. */
export function writeJsonl(name: string, events: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-scenario-'));
  const path = join(dir, name);
  writeFileSync(path, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  return path;
}

export const min = (n: number) => n * 60_000;
export const sec = (n: number) => n * 1000;

/**
 * The rules that fire on `events`, run the way `klaxon replay` runs them (normalize, detect, flush) but with the
 * catalogue loaded once: for large matrices of small traces.
 */
export function firedRules(ruleset: RuleSet, events: unknown[]): Set<string> {
  const detector = new Detector(ruleset);
  const out = new Set<string>();
  for (const raw of events) {
    const r = normalizeAny(raw, { cluster: 'test' });
    if (!r.ok) throw new Error(`scenario event does not normalize: ${r.reason}`);
    for (const a of detector.process(r.event)) out.add(a.rule.name);
  }
  for (const a of detector.flush()) out.add(a.rule.name);
  return out;
}
