import type { Counter } from 'prom-client';
import {
  falcoAlerts,
  k8sAuthFailures,
  k8sImagePullFailures,
  k8sNetworkPolicyChanges,
  k8sPodExec,
  k8sPrivilegedPods,
  k8sQuotaExceeded,
  k8sRbacChanges,
  k8sSecretReads,
} from '../metrics.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { FALCO_PRIORITIES, type FalcoPriorityName } from '../schema/falco.ts';

/**
 * The security signals the Kubernetes hardening guides ask to watch, as counters by cluster
 * and one small fixed label (DESIGN §3.6). `classifySecuritySignals` is pure; every label
 * value it returns comes from a fixed set, never from the payload as is.
 */
export type SecuritySignal =
  | { metric: 'k8sAuthFailures'; labels: { cluster: string; code: '401' | '403' } }
  | { metric: 'k8sRbacChanges'; labels: { cluster: string; verb: MutatingVerb } }
  | { metric: 'k8sPrivilegedPods'; labels: { cluster: string; kind: WorkloadResource } }
  | { metric: 'k8sNetworkPolicyChanges'; labels: { cluster: string; verb: MutatingVerb } }
  | { metric: 'k8sImagePullFailures'; labels: { cluster: string } }
  | { metric: 'k8sQuotaExceeded'; labels: { cluster: string } }
  | { metric: 'k8sSecretReads'; labels: { cluster: string; verb: 'get' | 'list' | 'watch' } }
  | { metric: 'k8sPodExec'; labels: { cluster: string; subresource: 'exec' | 'attach' | 'portforward' } }
  | { metric: 'falcoAlerts'; labels: { cluster: string; priority: FalcoPriority } };

const MUTATING_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;
type MutatingVerb = (typeof MUTATING_VERBS)[number];

const RBAC_RESOURCES = new Set(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);

/** Resources that carry a pod spec, and where it sits in the object. */
const POD_SPEC_PATHS = {
  pods: ['spec'],
  deployments: ['spec', 'template', 'spec'],
  daemonsets: ['spec', 'template', 'spec'],
  statefulsets: ['spec', 'template', 'spec'],
  replicasets: ['spec', 'template', 'spec'],
  replicationcontrollers: ['spec', 'template', 'spec'],
  jobs: ['spec', 'template', 'spec'],
  cronjobs: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
} as const;
type WorkloadResource = keyof typeof POD_SPEC_PATHS;

/** The `priority` label: Falco's priorities with `info` counted as `informational`, else `other`. */
type PriorityLabel = Exclude<FalcoPriorityName, 'info'>;
const PRIORITY_LABELS = FALCO_PRIORITIES.filter((p): p is PriorityLabel => p !== 'info');
type FalcoPriority = PriorityLabel | 'other';

const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff']);

function at(node: unknown, path: readonly string[]): unknown {
  let current = node;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function str(node: unknown, path: readonly string[]): string | undefined {
  const value = at(node, path);
  return typeof value === 'string' ? value : undefined;
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object')
    : [];
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a === value);
}

function hasPrivilegedContainer(podSpec: unknown): boolean {
  return ['containers', 'initContainers', 'ephemeralContainers'].some((list) =>
    records(at(podSpec, [list])).some((c) => at(c, ['securityContext', 'privileged']) === true),
  );
}

function imagePullFailure(
  resource: string | undefined,
  subresource: string | undefined,
  object: unknown,
): boolean {
  if (resource === 'events') {
    return (
      IMAGE_PULL_REASONS.has(str(object, ['reason']) ?? '') ||
      /ErrImagePull|ImagePullBackOff/.test(str(object, ['message']) ?? '')
    );
  }
  if (resource === 'pods' && subresource === 'status') {
    return ['containerStatuses', 'initContainerStatuses'].some((list) =>
      records(at(object, ['status', list])).some((s) =>
        IMAGE_PULL_REASONS.has(str(s, ['state', 'waiting', 'reason']) ?? ''),
      ),
    );
  }
  return false;
}

const LONG_RUNNING = new Set(['exec', 'attach', 'portforward']);

/**
 * Each request is counted at one stage. Most at their final stage (events without
 * a stage come from old logs). An exec, attach or port-forward session is counted
 * when it starts: its ResponseComplete comes only when the session ends. A failed
 * authentication is logged at ResponseStarted only.
 */
function countedStage(stage: string | undefined, subresource: string | undefined, code: unknown): boolean {
  if (stage === undefined) return true;
  if (subresource !== undefined && LONG_RUNNING.has(subresource)) return stage === 'ResponseStarted';
  if (stage === 'ResponseStarted') return code === 401;
  return stage === 'ResponseComplete' || stage === 'Panic';
}

function auditSignals(audit: Record<string, unknown>, cluster: string): SecuritySignal[] {
  const verb = str(audit, ['verb']);
  const resource = str(audit, ['objectRef', 'resource']);
  const subresource = str(audit, ['objectRef', 'subresource']);
  const code = at(audit, ['responseStatus', 'code']);
  if (!countedStage(str(audit, ['stage']), subresource, code)) return [];

  const signals: SecuritySignal[] = [];
  const succeeded = typeof code !== 'number' || code < 400;
  const request = at(audit, ['requestObject']);

  if (code === 401 || code === 403)
    signals.push({ metric: 'k8sAuthFailures', labels: { cluster, code: code === 401 ? '401' : '403' } });
  if (code === 403 && /exceeded quota/i.test(str(audit, ['responseStatus', 'message']) ?? '')) {
    signals.push({ metric: 'k8sQuotaExceeded', labels: { cluster } });
  }
  if (!succeeded) return signals;

  const mutating = oneOf(verb, MUTATING_VERBS);
  if (mutating && subresource === undefined && resource && RBAC_RESOURCES.has(resource)) {
    signals.push({ metric: 'k8sRbacChanges', labels: { cluster, verb: mutating } });
  }
  if (mutating && subresource === undefined && resource === 'networkpolicies') {
    signals.push({ metric: 'k8sNetworkPolicyChanges', labels: { cluster, verb: mutating } });
  }
  const workload = oneOf(resource, Object.keys(POD_SPEC_PATHS) as WorkloadResource[]);
  if (
    workload &&
    subresource === undefined &&
    (verb === 'create' || verb === 'update' || verb === 'patch') &&
    hasPrivilegedContainer(at(request, POD_SPEC_PATHS[workload]))
  ) {
    signals.push({ metric: 'k8sPrivilegedPods', labels: { cluster, kind: workload } });
  }
  const read = oneOf(verb, ['get', 'list', 'watch'] as const);
  if (read && resource === 'secrets' && subresource === undefined) {
    signals.push({ metric: 'k8sSecretReads', labels: { cluster, verb: read } });
  }
  const into = oneOf(subresource, ['exec', 'attach', 'portforward'] as const);
  if (into && resource === 'pods')
    signals.push({ metric: 'k8sPodExec', labels: { cluster, subresource: into } });
  if (
    (mutating === 'create' || mutating === 'update' || mutating === 'patch') &&
    imagePullFailure(resource, subresource, request)
  ) {
    signals.push({ metric: 'k8sImagePullFailures', labels: { cluster } });
  }
  return signals;
}

/** Which security-signal counters one normalized event bumps. Pure. */
export function classifySecuritySignals(event: NormalizedEvent): SecuritySignal[] {
  const cluster = event.orchestrator.cluster.name;
  if (event.event.dataset === 'falco') {
    const raw = typeof event.falco?.priority === 'string' ? event.falco.priority.toLowerCase() : undefined;
    const priority = raw === 'info' ? 'informational' : (oneOf(raw, PRIORITY_LABELS) ?? 'other');
    return [{ metric: 'falcoAlerts', labels: { cluster, priority } }];
  }
  return event.kubernetes ? auditSignals(event.kubernetes.audit, cluster) : [];
}

const COUNTERS = {
  k8sAuthFailures,
  k8sRbacChanges,
  k8sPrivilegedPods,
  k8sNetworkPolicyChanges,
  k8sImagePullFailures,
  k8sQuotaExceeded,
  k8sSecretReads,
  k8sPodExec,
  falcoAlerts,
} as const;

/** Bumps the counters for one event (used by `detect` and `serve`). */
export function countSecuritySignals(event: NormalizedEvent): void {
  for (const signal of classifySecuritySignals(event)) {
    // Each counter's label names match its signal's labels (the union type ties them together).
    (COUNTERS[signal.metric] as Counter<string>).inc(signal.labels);
  }
}
