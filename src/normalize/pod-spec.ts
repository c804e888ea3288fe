import { isRecord } from './redact.ts';

/** Workload resources whose pod template sits at `spec.template.spec`. */
const TEMPLATED = new Set([
  'deployments',
  'replicasets',
  'statefulsets',
  'daemonsets',
  'jobs',
  'replicationcontrollers',
]);

export function get(value: unknown, key: string): unknown {
  return isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

/** The pod spec inside a Pod, a workload (its template) or a CronJob (its job's template); undefined otherwise. */
export function podSpec(resource: string | undefined, body: unknown): unknown {
  if (resource === 'podtemplates') return get(get(body, 'template'), 'spec');
  const spec = get(body, 'spec');
  if (resource === 'pods') return spec;
  if (resource && TEMPLATED.has(resource)) return get(get(spec, 'template'), 'spec');
  if (resource === 'cronjobs') return get(get(get(get(spec, 'jobTemplate'), 'spec'), 'template'), 'spec');
  return undefined;
}
