import { FALCO_PRIORITIES, type FalcoPriorityName } from '../schema/falco.ts';

/** Verbs that change objects: the `verb` label of change counters. */
export const MUTATING_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;
export type MutatingVerb = (typeof MUTATING_VERBS)[number];

/** Resources that carry a pod spec: the `kind` label of the privileged-pod counter. */
export type WorkloadResource =
  | 'pods'
  | 'deployments'
  | 'daemonsets'
  | 'statefulsets'
  | 'replicasets'
  | 'replicationcontrollers'
  | 'jobs'
  | 'cronjobs';

/** The `priority` label: Falco's priorities with `info` counted as `informational`, else `other`. */
type PriorityLabel = Exclude<FalcoPriorityName, 'info'>;
export const PRIORITY_LABELS = FALCO_PRIORITIES.filter((p): p is PriorityLabel => p !== 'info');
export type FalcoPriority = PriorityLabel | 'other';

/**
 * The security signals the Kubernetes hardening guides ask to watch, as counters by cluster
 * and one small fixed label (DESIGN §3.6). Each dataset says which of its events bump which
 * (`Dataset.securitySignals`, pure); every label value comes from a fixed set, never from the
 * payload as is.
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
