import type { Counter } from 'prom-client';
import { datasetOf } from '../datasets/index.ts';
import type { SecuritySignal } from '../datasets/signal-types.ts';
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

/** Which security-signal counters one normalized event bumps. Pure. */
export function classifySecuritySignals(event: NormalizedEvent): SecuritySignal[] {
  return datasetOf(event).securitySignals?.(event) ?? [];
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
