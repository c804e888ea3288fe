import { fillFlowTestEvent } from '../detect/flow-testcases.ts';
import { isFlowShaped, normalizeFlow } from '../normalize/flow.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext } from '../schema/signal.ts';
import { pick, str, where } from './message-parts.ts';
import type { Dataset } from './types.ts';

/** Top-level fields of Cilium's `flow.Flow` (proto names), the paths Hubble rules use first. */
const TOP_LEVEL = new Set([
  'time',
  'uuid',
  'verdict',
  'drop_reason',
  'drop_reason_desc',
  'auth_type',
  'ethernet',
  'IP',
  'l4',
  'tunnel',
  'source',
  'destination',
  'Type',
  'node_name',
  'node_labels',
  'source_names',
  'destination_names',
  'l7',
  'reply',
  'is_reply',
  'event_type',
  'source_service',
  'destination_service',
  'traffic_direction',
  'policy_match_type',
  'trace_observation_point',
  'trace_reason',
  'file',
  'ingress_denied_by',
  'egress_denied_by',
  'ingress_allowed_by',
  'egress_allowed_by',
  'interface',
  'proxy_port',
  'trace_context',
  'sock_xlate_point',
  'socket_cookie',
  'cgroup_id',
  'Summary',
  'extensions',
]);

/** What an alert keeps of the flow. */
const SLICE = [
  'time',
  'verdict',
  'drop_reason_desc',
  'Type',
  'IP',
  'l4',
  'source',
  'destination',
  'traffic_direction',
  'is_reply',
  'ingress_denied_by',
  'egress_denied_by',
  'policy_match_type',
  'node_name',
] as const;

type Side = NonNullable<NormalizedEvent['source']>;

function side(s: Side | undefined): string {
  if (!s) return 'unknown';
  const where = s.pod
    ? `${s.namespace ? `${s.namespace}/` : ''}${s.pod}`
    : (s.entity?.[0] ?? s.ip ?? 'unknown');
  return s.pod && s.ip ? `${where} (${s.ip})` : where;
}

function message(ctx: AlertContext, title: string): string {
  const flow = ctx.hubble?.flow ?? {};
  const verdict = str(flow.verdict) ?? 'flow';
  const reason = str(flow.drop_reason_desc);
  const port = ctx.destination?.port !== undefined ? `:${ctx.destination.port}` : '';
  const transport = ctx.network?.transport ? `/${ctx.network.transport}` : '';
  const to = `${side(ctx.destination)}${port}${transport}`;
  return `${side(ctx.source)} → ${to} ${verdict.toLowerCase()}${reason ? ` (${reason})` : ''} ${where(ctx)} — ${title}`;
}

/** Cilium Hubble flows: the verdicts of network policies (exporter files, `hubble observe -o jsonpb`). */
export const hubbleDataset: Dataset = {
  name: 'cilium.hubble',
  label: 'flows',
  recognizes: isFlowShaped,
  normalize: normalizeFlow,
  testEvent: (raw, ms) => fillFlowTestEvent(raw, ms),

  logsource: 'product: cilium, service: hubble',
  selectedBy(logsource) {
    const product = logsource.product?.toLowerCase();
    const service = logsource.service?.toLowerCase();
    return product === 'cilium' && (service === undefined || service === 'hubble');
  },
  fields: { root: (event) => event.hubble?.flow, topLevel: TOP_LEVEL },
  index: [
    {
      key: 'verdict',
      fields: ['verdict'],
      value: (e) =>
        typeof e.hubble?.flow.verdict === 'string' ? e.hubble.flow.verdict.toLowerCase() : undefined,
    },
  ],
  suppressBy: [
    'orchestrator.cluster.name',
    'orchestrator.namespace',
    'orchestrator.resource.name',
    'destination.ip',
    'destination.port',
  ],

  alertSection(event) {
    const section: Partial<AlertContext> = {};
    if (event.hubble) section.hubble = { flow: pick(event.hubble.flow, SLICE) };
    if (event.destination) section.destination = event.destination;
    if (event.network) section.network = event.network;
    if (event.source) section.source = event.source;
    return section;
  },
  message,
  actor: false,
};
