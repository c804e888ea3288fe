import { isFalcoShaped, normalizeFalco } from '../normalize/falco.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext } from '../schema/signal.ts';
import { pick, str, where } from './message-parts.ts';
import { type FalcoPriority, PRIORITY_LABELS, type SecuritySignal } from './signal-types.ts';
import type { Dataset } from './types.ts';

/** Top-level fields of a Falco alert (`source` is Falco's event source; `source.ip` is ECS). */
const TOP_LEVEL = new Set([
  'time',
  'rule',
  'priority',
  'output',
  'output_fields',
  'tags',
  'source',
  'hostname',
  'uuid',
]);

const SLICE = ['rule', 'priority', 'output', 'output_fields', 'tags', 'source', 'hostname', 'time'] as const;

function message(ctx: AlertContext, title: string): string {
  const falco = ctx.falco ?? {};
  // Falco's output starts with the time and the priority, which the message says already.
  const output = (str(falco.output) ?? str(falco.rule) ?? 'Falco alert')
    .replace(/\s+/g, ' ')
    .replace(/^[0-9:.]+: [A-Za-z]+ /, '');
  const pod = ctx.orchestrator?.resource?.name;
  const priority = str(falco.priority);
  return `Falco${priority ? ` ${priority}` : ''}: ${output}${pod ? ` (pod ${pod})` : ''} ${where(ctx)} — ${title}`;
}

function falcoSignals(event: NormalizedEvent): SecuritySignal[] {
  const raw = typeof event.falco?.priority === 'string' ? event.falco.priority.toLowerCase() : undefined;
  const priority: FalcoPriority =
    raw === 'info' ? 'informational' : (PRIORITY_LABELS.find((p) => p === raw) ?? 'other');
  return [{ metric: 'falcoAlerts', labels: { cluster: event.orchestrator.cluster.name, priority } }];
}

/** Falco alerts (`http_output` JSON, falcosidekick's payload). */
export const falcoDataset: Dataset = {
  name: 'falco',
  label: 'falco',
  recognizes: isFalcoShaped,
  normalize: normalizeFalco,
  testEvent: (raw, ms) => ({
    time: new Date(ms).toISOString(),
    priority: 'Warning',
    output: `${typeof raw.rule === 'string' ? raw.rule : 'Falco alert'} (test event)`,
    source: 'syscall',
    ...raw,
  }),

  logsource: 'product: falco',
  selectedBy: (logsource) => logsource.product?.toLowerCase() === 'falco',
  fields: { root: (event) => event.falco, topLevel: TOP_LEVEL },
  index: [
    {
      key: 'rule',
      fields: ['rule'],
      value: (e) => (typeof e.falco?.rule === 'string' ? e.falco.rule.toLowerCase() : undefined),
    },
  ],
  suppressBy: [
    'orchestrator.cluster.name',
    'user.name',
    'orchestrator.namespace',
    'orchestrator.resource.name',
    'rule',
  ],

  alertSection: (event) => (event.falco ? { falco: pick(event.falco, SLICE) } : {}),
  message,
  attackTags: (ctx) => (Array.isArray(ctx.falco?.tags) ? (ctx.falco.tags as unknown[]) : []),
  actor: false,
  securitySignals: falcoSignals,
};
