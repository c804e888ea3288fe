// Reading what the SIEM test receivers wrote: rsyslog's JSON lines (one per syslog message) and
// the OpenTelemetry Collector's file exporter (one OTLP/JSON ExportLogsServiceRequest per line).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Alert } from '../../src/schema/alert.ts';
import { parseCef } from '../helpers/cef.ts';
import { makeAlert } from '../unit/sinks/make-alert.ts';
import { otlpCollector, syslogReceiver } from './services.ts';

/** An alert whose text needs every escape: CEF's |, \, = and newlines, JSON's quotes, multi-byte UTF-8. */
export function hostileAlert(seed: string): Alert {
  const alert = makeAlert(seed);
  alert.rule.description = 'pipe | in the name \\ and = sign,\nnew line';
  alert.message = `${seed}: mallory ünïcödé 🚨 ran sh -c "a=b" in C:\\temp x|y\nline one\nline two`;
  alert.user = { name: `mallory=admin|${seed}` };
  alert.orchestrator = {
    cluster: { name: 'test' },
    namespace: 'kube-system',
    resource: { type: 'pods', name: `web-${seed}` },
  };
  return alert;
}

async function lines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** JSON.parse, or undefined for a line the receiver is still writing. */
function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

export interface SyslogRecord {
  pri: number;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  time: string;
  msg: string;
  /** From the JSON payload's `klaxon.alert_id`, or CEF's `cs6` (labelled `alertId`). */
  alertId: string | undefined;
}

/** Every message rsyslog wrote for one of its inputs. */
export async function syslogRecords(input: 'tcp' | 'tls' | 'mtls'): Promise<SyslogRecord[]> {
  const records: SyslogRecord[] = [];
  for (const line of await lines(join(syslogReceiver().outDir, `${input}.jsonl`))) {
    const raw = parse(line) as Omit<SyslogRecord, 'alertId'> | undefined;
    if (!raw) continue;
    const msg = raw.msg.replace(/^\u{FEFF}/u, '');
    const alertId = msg.startsWith('CEF:')
      ? parseCef(msg).extension.cs6
      : (parse(msg) as Alert | undefined)?.klaxon?.alert_id;
    records.push({ ...raw, msg, alertId });
  }
  return records;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: Array<{ key: string; value: AnyValue }> };
};

function plain(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plain);
  if (v.kvlistValue)
    return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, plain(kv.value)]));
  return undefined;
}

const attributesOf = (list: Array<{ key: string; value: AnyValue }> | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));

export interface OtlpRecord {
  resource: Record<string, unknown>;
  record: { timeUnixNano: string; severityNumber: number; severityText: string; eventName?: string };
  attributes: Record<string, unknown>;
  body: Record<string, unknown>;
  alertId: string | undefined;
}

interface ExportLogsServiceRequest {
  resourceLogs?: Array<{
    resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
    scopeLogs?: Array<{
      logRecords?: Array<
        OtlpRecord['record'] & { attributes?: Array<{ key: string; value: AnyValue }>; body?: AnyValue }
      >;
    }>;
  }>;
}

/** Every LogRecord the collector's file exporter wrote. */
export async function otlpRecords(): Promise<OtlpRecord[]> {
  const out: OtlpRecord[] = [];
  for (const line of await lines(otlpCollector().outFile)) {
    const request = parse(line) as ExportLogsServiceRequest | undefined;
    for (const rl of request?.resourceLogs ?? []) {
      const resource = attributesOf(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const lr of sl.logRecords ?? []) {
          const attributes = attributesOf(lr.attributes);
          const body = plain(lr.body);
          out.push({
            resource,
            record: lr,
            attributes,
            body:
              typeof body === 'object' && body !== null
                ? (body as Record<string, unknown>)
                : { message: body },
            alertId:
              typeof attributes['klaxon.alert_id'] === 'string' ? attributes['klaxon.alert_id'] : undefined,
          });
        }
      }
    }
  }
  return out;
}
