import type { ContainerProcess, ProcessFields } from '../schema/event.ts';
import { get, podSpec } from './pod-spec.ts';

/**
 * The processes an audit event starts or declares, as ECS `process.*` fields (DESIGN §3.2):
 * - exec (`pods/exec`): the API server records the command as repeated `command=` query parameters of `requestURI`
 *   (`?command=sh&command=-c&command=…&container=web&stdin=true…`), URL-encoded, in order; attach has no command,
 *   only the `container=`;
 * - a new ephemeral container (`pods/ephemeralcontainers`, `kubectl debug`): the last ephemeral container of the body;
 * - a created or changed pod spec (Pods, workload templates, CronJobs): every container's `command` + `args`
 *   (containers, then init containers, then ephemeral containers).
 *
 * ECS `process.*` holds one process: the exec's, the new ephemeral container's, or the pod spec's first one that
 * declares a `command` or `args`. `processes` lists every one with its container (`klaxon.processes`), so a rule can
 * see all of a pod's containers. A container without `command` and `args` runs its image's entrypoint, which the API
 * server never sees: it has no process here. With `args` alone the image's ENTRYPOINT (unknown) comes first, so
 * `process.name` is set only when `args[0]` names a program rather than an option.
 *
 * Input is the REDACTED audit event (requestURI and bodies), so nothing secret is copied.
 */
export interface EventProcesses {
  process?: ProcessFields;
  container?: { name?: string; image?: string };
  processes?: ContainerProcess[];
}

/** At most this many processes are listed for one pod spec (the API server sets no limit on containers). */
export const MAX_PROCESSES = 256;

const WRITES = new Set(['create', 'update', 'patch']);
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** ECS process fields for an argument vector; `named`: argv[0] is known to be the program. */
export function processFields(argv: string[], named: boolean): ProcessFields {
  const out: ProcessFields = { args: argv, args_count: argv.length, command_line: argv.join(' ') };
  const first = argv[0];
  if (first !== undefined && first !== '' && (named || !first.startsWith('-'))) {
    const name = basename(first);
    if (name !== '') out.name = name;
    if (first.includes('/')) out.executable = first;
  }
  return out;
}

function containerProcess(container: unknown): ContainerProcess | undefined {
  const command = strings(get(container, 'command'));
  const args = strings(get(container, 'args'));
  if (command.length === 0 && args.length === 0) return undefined;
  const name = get(container, 'name');
  return {
    ...processFields([...command, ...args], command.length > 0),
    container: typeof name === 'string' && name !== '' ? { name } : {},
  };
}

function query(requestUri: unknown): URLSearchParams | undefined {
  if (typeof requestUri !== 'string') return undefined;
  const q = requestUri.indexOf('?');
  return q < 0 ? undefined : new URLSearchParams(requestUri.slice(q + 1));
}

function execProcesses(requestUri: unknown, subresource: string): EventProcesses {
  const params = query(requestUri);
  if (!params) return {};
  const container = params.get('container') ?? undefined;
  const out: EventProcesses = {};
  if (container) out.container = { name: container };
  const argv = subresource === 'exec' ? params.getAll('command') : [];
  if (argv.length > 0) {
    out.process = processFields(argv, true);
    out.processes = [{ ...out.process, container: container ? { name: container } : {} }];
  }
  return out;
}

function specProcesses(
  spec: unknown,
  lists: readonly (typeof CONTAINER_LISTS)[number][],
): ContainerProcess[] {
  const out: ContainerProcess[] = [];
  for (const list of lists) {
    const containers = get(spec, list);
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (out.length >= MAX_PROCESSES) return out;
      const p = containerProcess(c);
      if (p) out.push(p);
    }
  }
  return out;
}

function withoutContainer(p: ContainerProcess): ProcessFields {
  const { container: _container, ...fields } = p;
  return fields;
}

/** The new ephemeral container of a `pods/ephemeralcontainers` write: the last one in the body. */
function ephemeralProcesses(body: unknown): EventProcesses {
  const list = get(get(body, 'spec'), 'ephemeralContainers');
  if (!Array.isArray(list) || list.length === 0) return {};
  const last = list[list.length - 1];
  const out: EventProcesses = {};
  const name = get(last, 'name');
  const image = get(last, 'image');
  const container: EventProcesses['container'] = {};
  if (typeof name === 'string' && name !== '') container.name = name;
  if (typeof image === 'string' && image !== '') container.image = image;
  if (container.name || container.image) out.container = container;
  const lastProcess = containerProcess(last);
  if (lastProcess) out.process = withoutContainer(lastProcess);
  const all = specProcesses(get(body, 'spec'), ['ephemeralContainers']);
  if (all.length > 0) out.processes = all;
  return out;
}

/** See the module comment. `audit` is the redacted audit event. */
export function eventProcesses(audit: Record<string, unknown>): EventProcesses {
  const ref = audit.objectRef;
  const resource = get(ref, 'resource');
  const subresource = get(ref, 'subresource');
  if (typeof resource !== 'string') return {};
  if (resource === 'pods' && (subresource === 'exec' || subresource === 'attach'))
    return execProcesses(audit.requestURI, subresource);
  // A pod spec that is read (get, list, watch at RequestResponse level) starts nothing.
  if (!WRITES.has(audit.verb as string)) return {};
  const body = audit.requestObject ?? audit.responseObject;
  if (body === undefined || body === null) return {};
  if (resource === 'pods' && subresource === 'ephemeralcontainers') return ephemeralProcesses(body);
  if (subresource !== undefined && subresource !== '') return {};
  const all = specProcesses(podSpec(resource, body), CONTAINER_LISTS);
  if (all.length === 0) return {};
  return { process: withoutContainer(all[0]!), processes: all };
}
