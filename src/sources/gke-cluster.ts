import { z } from 'zod';
import type { GkeCluster } from '../normalize/gke.ts';
import { ClusterName } from '../schema/cluster.ts';

/** A Google Cloud project id (`acme-prod`; legacy domain-scoped ids `example.com:acme-prod`). */
const ProjectId = z
  .string()
  .regex(/^(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'not a Google Cloud project id');

/**
 * Which cluster the events of a GKE source (Pub/Sub pull or push) are filed under. A LogEntry names its cluster
 * in `resource.labels.cluster_name`, but that label is payload: whoever may publish to the topic may write any
 * name there. So the cluster is either fixed by the source (`cluster`, the entry's label is not read), or taken
 * from the entry only when it is one of `allowedClusters`, which the operator lists. `projects` further limits
 * the entries to those of the listed projects (`resource.labels.project_id`), so that two projects' clusters of
 * the same name are never filed as one.
 */
export const GkeClusterChoice = {
  /** Every event of the source is from this cluster. */
  cluster: ClusterName.optional(),
  /** Else: the entry's `resource.labels.cluster_name`, when it is one of these. */
  allowedClusters: z.array(ClusterName).min(1).max(1_000).optional(),
  /** Only entries of these projects (`resource.labels.project_id`); others are dead-lettered. */
  projects: z.array(ProjectId).min(1).max(1_000).optional(),
};

export interface GkeClusterSettings {
  cluster?: string | undefined;
  allowedClusters?: string[] | undefined;
  projects?: string[] | undefined;
}

/** The settings refinement: exactly one of `cluster` and `allowedClusters`. */
export function refineClusterChoice(settings: GkeClusterSettings, ctx: z.RefinementCtx): void {
  if ((settings.cluster === undefined) === (settings.allowedClusters === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['cluster'],
      message:
        'set either cluster (every entry is from it) or allowedClusters (the entry names its cluster, one of these)',
    });
  }
}

/** A payload value quoted in a reason: JSON-escaped and short (reasons are logged). */
function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 63)}…` : value);
}

/** The cluster Klaxon files an entry's event under, or why the entry is not one this source takes. */
export function clusterFor(
  settings: GkeClusterSettings,
  named: GkeCluster,
): { ok: true; cluster: string } | { ok: false; reason: string } {
  if (settings.projects && !(named.projectId && settings.projects.includes(named.projectId))) {
    return {
      ok: false,
      reason: named.projectId
        ? `project ${quoted(named.projectId)} is not one of this source's projects`
        : 'the entry names no project (resource.labels.project_id)',
    };
  }
  if (settings.cluster !== undefined) return { ok: true, cluster: settings.cluster };
  const name = named.name;
  if (name === undefined)
    return { ok: false, reason: 'the entry names no cluster (resource.labels.cluster_name)' };
  if (!settings.allowedClusters?.includes(name))
    return { ok: false, reason: `cluster ${quoted(name)} is not one of this source's allowedClusters` };
  return { ok: true, cluster: name };
}
