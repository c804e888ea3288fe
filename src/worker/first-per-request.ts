import type { RuleMatch } from '../detect/detector.ts';
import type { DetectionRule } from '../detect/ruleset.ts';

/**
 * One match per rule per audit request, as `Detector.process` does for `replay` and
 * `rules test`: an exec or port-forward session is logged twice (ResponseStarted when it
 * opens, ResponseComplete when it ends) under one auditID, and must alert and feed
 * correlations once. auditIDs are unique only within one API server's cluster, so they are
 * remembered per cluster, each cluster with its own bound: one cluster's flood cannot evict
 * another's.
 */
export class FirstPerRequest {
  private readonly clusters = new Map<string, Map<string, Set<DetectionRule>>>();
  private readonly maxPerCluster: number;
  private readonly maxClusters: number;

  constructor(maxPerCluster = 100_000, maxClusters = 1_024) {
    this.maxPerCluster = maxPerCluster;
    this.maxClusters = maxClusters;
  }

  /** False when the rule already matched this request. Matches of other datasets always pass. */
  admit(match: RuleMatch): boolean {
    const auditId = match.event.kubernetes?.audit.auditID;
    if (match.event.event.dataset !== 'kubernetes.audit' || typeof auditId !== 'string') return true;
    const cluster = match.event.orchestrator.cluster.name;
    let requests = this.clusters.get(cluster);
    if (!requests) {
      requests = new Map();
      this.clusters.set(cluster, requests);
      if (this.clusters.size > this.maxClusters) this.clusters.delete(this.clusters.keys().next().value!);
    }
    let rules = requests.get(auditId);
    if (!rules) {
      rules = new Set();
      requests.set(auditId, rules);
      if (requests.size > this.maxPerCluster) requests.delete(requests.keys().next().value!);
    }
    if (rules.has(match.rule)) return false;
    rules.add(match.rule);
    return true;
  }
}
