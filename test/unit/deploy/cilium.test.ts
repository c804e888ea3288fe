import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VERDICTS } from '../../../src/normalize/flow-canonical.ts';
import { HubbleFlow } from '../../../src/schema/flow.ts';
import { makeApp, TOKENS } from '../ingest/helpers.ts';

const dir = join(import.meta.dirname, '../../../deploy/cilium');
const read = (file: string) => readFileSync(join(dir, file), 'utf8');

/** The fields of flow.FlowFilter in Cilium 1.19 (api/v1/flow/flow.proto): the exporter refuses others. */
const FLOW_FILTER_FIELDS = new Set([
  'uuid',
  'source_ip',
  'source_ip_xlated',
  'source_pod',
  'source_fqdn',
  'source_label',
  'source_service',
  'source_workload',
  'source_cluster_name',
  'destination_ip',
  'destination_pod',
  'destination_fqdn',
  'destination_label',
  'destination_service',
  'destination_workload',
  'destination_cluster_name',
  'traffic_direction',
  'verdict',
  'drop_reason_desc',
  'interface',
  'event_type',
  'http_status_code',
  'protocol',
  'source_port',
  'destination_port',
  'reply',
  'dns_query',
  'source_identity',
  'destination_identity',
  'http_method',
  'http_path',
  'http_url',
  'http_header',
  'tcp_flags',
  'node_name',
  'node_labels',
  'ip_version',
  'trace_id',
  'ip_trace_id',
  'encrypted',
  'experimental',
]);

interface ExportValues {
  hubble: {
    enabled: boolean;
    networkPolicyCorrelation: { enabled: boolean };
    export: {
      static: {
        enabled: boolean;
        filePath: string;
        allowList: string[];
        denyList: string[];
        fieldMask: string[];
      };
    };
  };
}

const cilium = parse(read('values-cilium-hubble-export.yaml')) as ExportValues;
const exporter = cilium.hubble.export.static;

/** `[SECTION]` blocks of a Fluent Bit classic configuration: name and key/value pairs. */
function sections(text: string): { name: string; keys: [string, string][] }[] {
  const out: { name: string; keys: [string, string][] }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Z]+)\]$/.exec(line);
    if (header) out.push({ name: header[1]!, keys: [] });
    else {
      const [key, ...value] = line.split(/\s+/);
      out.at(-1)?.keys.push([key!.toLowerCase(), value.join(' ')]);
    }
  }
  return out;
}

describe('deploy/cilium: the Hubble exporter', () => {
  it('exports to a file with network policy correlation on', () => {
    expect(cilium.hubble.enabled).toBe(true);
    expect(cilium.hubble.networkPolicyCorrelation.enabled).toBe(true);
    expect(exporter.enabled).toBe(true);
    expect(exporter.filePath).toBe('/var/run/cilium/hubble/events.log');
  });

  it('every allow- and deny-list entry is a JSON FlowFilter with Cilium’s field names and enum values', () => {
    for (const entry of [...exporter.allowList, ...exporter.denyList]) {
      const filter = JSON.parse(entry) as Record<string, unknown>;
      for (const key of Object.keys(filter)) expect(FLOW_FILTER_FIELDS, `${key} in ${entry}`).toContain(key);
      for (const verdict of (filter.verdict as string[] | undefined) ?? [])
        expect(VERDICTS).toContain(verdict);
    }
    const allowed = exporter.allowList.map((e) => JSON.parse(e) as Record<string, string[]>);
    expect(allowed).toContainEqual({ verdict: ['AUDIT'] });
    expect(allowed.flatMap((f) => f.drop_reason_desc ?? [])).toEqual([
      'POLICY_DENIED',
      'POLICY_DENY',
      'AUTH_REQUIRED',
    ]);
    expect(allowed.flatMap((f) => f.destination_ip ?? [])).toEqual(['169.254.169.254', 'fd00:ec2::254']);
    expect(allowed.flatMap((f) => f.destination_port ?? [])).toEqual(['10250', '10255', '2379', '2380']);
  });

  it('the field mask names only flow.Flow fields, and keeps every field Klaxon reads', () => {
    const known = new Set([...Object.keys(HubbleFlow.shape), 'uuid', 'Summary']);
    for (const field of exporter.fieldMask) expect(known, field).toContain(field);
    for (const needed of [
      'time',
      'verdict',
      'drop_reason_desc',
      'IP',
      'l4',
      'source',
      'destination',
      'event_type',
      'traffic_direction',
      'is_reply',
      'egress_denied_by',
      'ingress_denied_by',
      'l7',
    ])
      expect(exporter.fieldMask).toContain(needed);
  });
});

describe('deploy/cilium: the Fluent Bit shipper', () => {
  const values = parse(read('values-fluent-bit.yaml')) as {
    kind: string;
    env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    daemonSetVolumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    config: { service: string; inputs: string; outputs: string; customParsers: string };
  };
  const input = sections(values.config.inputs)[0]!;
  const output = sections(values.config.outputs)[0]!;
  const get = (s: { keys: [string, string][] }, key: string) =>
    s.keys.find(([k]) => k === key.toLowerCase())?.[1];

  it('runs on every node and tails the exporter’s file through a parser that keeps each line as it is', () => {
    expect(values.kind).toBe('DaemonSet');
    expect(input.name).toBe('INPUT');
    expect(get(input, 'Name')).toBe('tail');
    expect(get(input, 'Path')).toBe(exporter.filePath);
    expect(get(input, 'DB')).toMatch(/^\/var\/lib\//);
    expect(values.daemonSetVolumeMounts).toContainEqual({
      name: 'hubble-export',
      mountPath: '/var/run/cilium/hubble',
      readOnly: true,
    });
    const parser = sections(values.config.customParsers).find((s) => get(s, 'Name') === get(input, 'Parser'));
    expect(parser?.keys).toEqual([
      ['name', 'hubble_json'],
      ['format', 'json'],
    ]);
    expect(get(sections(values.config.service)[0]!, 'Parsers_File')).toBe('custom_parsers.conf');
  });

  it('POSTs gzipped JSON lines, unchanged, to /v1/flows over verified TLS with the token from a Secret', () => {
    expect(get(output, 'Name')).toBe('http');
    expect(get(output, 'URI')).toBe('/v1/flows');
    expect(get(output, 'Format')).toBe('json_lines');
    expect(get(output, 'json_date_key')).toBe('false');
    expect(get(output, 'Compress')).toBe('gzip');
    // Fluent Bit expands the environment variable; the token is never in the file.
    expect(get(output, 'Header')).toBe(['Authorization Bearer $', '{KLAXON_TOKEN}'].join(''));
    expect(get(output, 'tls')).toBe('On');
    expect(get(output, 'tls.verify')).toBe('On');
    // Retried until Klaxon takes it; the disk buffer bounds the backlog.
    expect(get(output, 'Retry_Limit')).toBe('no_limits');
    expect(get(output, 'storage.total_limit_size')).toMatch(/^\d+M$/);
    expect(get(input, 'storage.type')).toBe('filesystem');
    const token = values.env.find((e) => e.name === 'KLAXON_TOKEN');
    expect(token?.value).toBeUndefined();
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: 'klaxon-flows-token', key: 'token' });
    expect(read('values-fluent-bit.yaml')).not.toMatch(/Bearer [A-Za-z0-9]/);
  });

  it('sends what POST /v1/flows reads: the exporter’s lines as JSON lines (application/x-ndjson, Fluent Bit’s type)', async () => {
    const { app, bus } = await makeApp();
    try {
      const lines = readFileSync(join(dir, '../../test/fixtures/hubble/drop-networkpolicy.jsonl'), 'utf8');
      const res = await app.inject({
        method: 'POST',
        url: get(output, 'URI')!,
        headers: { authorization: `Bearer ${TOKENS.prod}`, 'content-type': 'application/x-ndjson' },
        payload: lines,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ accepted: 4, rejected: [] });
    } finally {
      await app.close();
      await bus.stop();
    }
  });
});
