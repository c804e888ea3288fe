import { z } from 'zod';
import type { HubbleFlow } from '../schema/flow.ts';
import { enforcingSide } from './flow.ts';

/**
 * Labels of `klaxon_network_policy_drops_total{cluster,direction,namespace}`.
 * Cardinality is a security property here: an attacker who can create
 * namespaces (or send flows) must not be able to create series. So the
 * namespace label is one of a configured, bounded list, or `other`, or `none`
 * (no Kubernetes endpoint on the enforcing side, e.g. host firewall drops).
 */

/** A Kubernetes namespace name (DNS-1123 label). */
const NamespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);

/** The namespaces that get their own series; at most 50 (each is a series per cluster and direction). */
export const DropMetricNamespaces = z
  .array(
    NamespaceName.refine((n) => n !== 'other' && n !== 'none', {
      message: '"other" and "none" are the labels of the namespaces not listed and of no namespace',
    }),
  )
  .max(50)
  .default([]);
export type DropMetricNamespaces = z.infer<typeof DropMetricNamespaces>;

export interface DropMetricLabels {
  direction: 'ingress' | 'egress' | 'unknown';
  namespace: string;
}

/** The direction and bounded namespace label of a policy drop (the cluster label is the credential's). */
export function dropMetricLabels(flow: HubbleFlow, namespaces: ReadonlySet<string>): DropMetricLabels {
  const direction =
    flow.traffic_direction === 'INGRESS'
      ? 'ingress'
      : flow.traffic_direction === 'EGRESS'
        ? 'egress'
        : 'unknown';
  const namespace = enforcingSide(flow)?.namespace;
  if (!namespace) return { direction, namespace: 'none' };
  return { direction, namespace: namespaces.has(namespace) ? namespace : 'other' };
}
