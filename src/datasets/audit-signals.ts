import type { NormalizedEvent } from '../schema/event.ts';
import { MUTATING_VERBS, type SecuritySignal, type WorkloadResource } from './signal-types.ts';

const RBAC_RESOURCES = new Set(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);

/** Resources that carry a pod spec, and where it sits in the object. */
const POD_SPEC_PATHS: Record<WorkloadResource, readonly string[]> = {
  pods: ['spec'],
  deployments: ['spec', 'template', 'spec'],
  daemonsets: ['spec', 'template', 'spec'],
  statefulsets: ['spec', 'template', 'spec'],
  replicasets: ['spec', 'template', 'spec'],
  replicationcontrollers: ['spec', 'template', 'spec'],
  jobs: ['spec', 'template', 'spec'],
  cronjobs: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

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
 * The security signals of an audit event (pure): each request is counted at one stage. Most at their final stage (events without
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

/** The security signals of an audit event. Pure. */
export function auditSecuritySignals(event: NormalizedEvent): SecuritySignal[] {
  return event.kubernetes ? auditSignals(event.kubernetes.audit, event.orchestrator.cluster.name) : [];
}
