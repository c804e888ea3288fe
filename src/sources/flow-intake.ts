import { hubbleLostEvents, ingestFlows, ingestHubbleRecords, networkPolicyDrops } from '../metrics.ts';
import { parseFlowRecord } from '../normalize/flow.ts';
import { compileFlowFilter, type FlowDecision, type FlowFilter } from '../normalize/flow-filter.ts';
import { type DropMetricLabels, dropMetricLabels } from '../normalize/flow-metric-labels.ts';
import type { HubbleFlow, NonFlowRecord } from '../schema/flow.ts';
import { type SourceItem, serializedSize } from './accept.ts';
import type { FlowsSettings } from './flow-settings.ts';
import type { HubbleTextItem } from './hubble.ts';

type Decision = 'published' | 'filtered';
type Reason = FlowDecision['reason'];

/**
 * What the volume filter made of one batch of Hubble records: the items to hand to the Acceptor (the flows to
 * publish, and the items that cannot be read, which it rejects by index), and what to count once the batch is
 * settled. Flows the filter drops and records that hold no flow never reach the Acceptor: they are neither
 * accepted nor rejected.
 */
export interface FlowSorting {
  items: SourceItem[];
  /** Valid records not published: filtered flows and non-flow records. */
  kept: number;
  filtered: number;
  notFlows: number;
  /** `decision/reason` → flows. */
  decisions: Map<`${Decision}/${Reason}`, number>;
  records: Map<NonFlowRecord, number>;
  /** Events Hubble says it lost (the sum of its lost-events notices). */
  lost: number;
  /** `direction/namespace` → policy drops. */
  drops: Map<string, { labels: DropMetricLabels; count: number }>;
}

/**
 * One dropped packet is reported twice, as a policy verdict (monitor event 5) and as a drop notification (1):
 * count it once, from the notification. A flow whose `event_type` a field mask removed counts.
 */
function countsAsDrop(flow: HubbleFlow): boolean {
  return flow.event_type?.type !== 5;
}

/**
 * The ingest side of Hubble flows: the volume filter and the drop metric's bounded labels, compiled once from
 * `ingest.flows`. `sort` is pure; `count` bumps the metrics of a batch once it is settled (so a batch the
 * sender must retry is counted when it finally goes through, once).
 */
export class FlowIntake {
  private readonly filter: FlowFilter;
  private readonly namespaces: ReadonlySet<string>;

  constructor(settings: Pick<FlowsSettings, 'filter' | 'metricNamespaces'>) {
    this.filter = compileFlowFilter(settings.filter);
    this.namespaces = new Set(settings.metricNamespaces);
  }

  /**
   * Sorts a batch. `maxItemBytes`, when given, is checked on the published flows only (the body was too big to
   * rule out an oversized item): a bigger one is a rejected item, as on every route.
   */
  sort(batch: readonly HubbleTextItem[], maxItemBytes?: number): FlowSorting {
    const out: FlowSorting = {
      items: [],
      kept: 0,
      filtered: 0,
      notFlows: 0,
      decisions: new Map(),
      records: new Map(),
      lost: 0,
      drops: new Map(),
    };
    for (const item of batch) {
      if ('error' in item) {
        out.items.push({ index: item.index, reason: 'json', error: item.error });
        continue;
      }
      const parsed = parseFlowRecord(item.raw);
      if (!parsed.ok) {
        if (parsed.kind === 'invalid') {
          out.items.push({ index: item.index, reason: 'schema', error: parsed.reason });
          continue;
        }
        out.kept++;
        out.notFlows++;
        out.records.set(parsed.kind, (out.records.get(parsed.kind) ?? 0) + 1);
        out.lost += parsed.lost ?? 0;
        continue;
      }
      const { flow } = parsed.record;
      const decision = this.filter(flow);
      if (!decision.publish) {
        out.kept++;
        out.filtered++;
        bump(out.decisions, `filtered/${decision.reason}`);
        continue;
      }
      if (maxItemBytes !== undefined) {
        const bytes = serializedSize(item.raw);
        if (bytes > maxItemBytes) {
          out.items.push({
            index: item.index,
            reason: 'too_large',
            error: Number.isFinite(bytes)
              ? `flow is ${bytes} bytes, over the limit of ${maxItemBytes} bytes`
              : 'flow is nested too deeply to process',
          });
          continue;
        }
      }
      out.items.push({ index: item.index, raw: item.raw });
      bump(out.decisions, `published/${decision.reason}`);
      if (decision.reason === 'policy-drop' && countsAsDrop(flow)) {
        const labels = dropMetricLabels(flow, this.namespaces);
        const key = `${labels.direction}/${labels.namespace}`;
        const entry = out.drops.get(key);
        if (entry) entry.count++;
        else out.drops.set(key, { labels, count: 1 });
      }
    }
    return out;
  }

  /** Bumps the flow metrics of a settled batch (the cluster is the credential's). */
  static count(sorting: FlowSorting, cluster: string): void {
    for (const [key, n] of sorting.decisions) {
      const [decision, reason] = key.split('/') as [Decision, Reason];
      ingestFlows.inc({ cluster, decision, reason }, n);
    }
    for (const [kind, n] of sorting.records) ingestHubbleRecords.inc({ cluster, kind }, n);
    if (sorting.lost > 0) hubbleLostEvents.inc({ cluster }, sorting.lost);
    for (const { labels, count } of sorting.drops.values())
      networkPolicyDrops.inc({ cluster, ...labels }, count);
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
