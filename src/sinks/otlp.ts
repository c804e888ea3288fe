import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { gzipSync } from 'node:zlib';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { KLAXON_VERSION } from '../version.ts';
import type { Transport } from './forwarder.ts';
import { HttpClient, readSecretFile } from './http-client.ts';
import { type OtlpRecordContext, recordContext, toLogRecord } from './otlp-records.ts';
import type { OtlpSinkSettings } from './otlp-settings.ts';

/**
 * OpenTelemetry logs over OTLP/HTTP (`POST <endpoint>/v1/logs`), protobuf or JSON, encoded
 * by the official `@opentelemetry/otlp-transformer` serializers. Delivered = the collector
 * answered 2xx (it has the records; with a persistent queue in the collector, durably).
 */

const HeaderFile = z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string().min(1));

/** `ExportLogsServiceResponse.partial_success`: the collector dropped some records for good. */
export type OtlpVerdict =
  | { kind: 'ok'; rejectedRecords: number; message?: string }
  | { kind: 'rejected'; reason: string }
  | { kind: 'retry'; reason: string };

/**
 * OTLP/HTTP's rules: 2xx is success (a partial success names how many records were dropped),
 * 400 and 413 will never succeed, 429/502/503/504 are transient. Other answers (401, 403, 404:
 * a token or path to fix) are retried too, so alerts wait for the operator instead of vanishing.
 */
export function classifyOtlp(
  status: number,
  partial?: { rejectedRecords: number; message?: string },
): OtlpVerdict {
  if (status >= 200 && status < 300)
    return {
      kind: 'ok',
      rejectedRecords: partial?.rejectedRecords ?? 0,
      ...(partial?.message ? { message: partial.message } : {}),
    };
  if (status === 400 || status === 413) return { kind: 'rejected', reason: `status ${status}` };
  return { kind: 'retry', reason: `status ${status}` };
}

export class OtlpTransport implements Transport {
  private readonly sink: string;
  private readonly url: string;
  private readonly settings: OtlpSinkSettings;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string>;
  private readonly context: OtlpRecordContext;

  constructor(sink: string, settings: OtlpSinkSettings) {
    this.sink = sink;
    this.settings = settings;
    this.url = `${settings.endpoint.replace(/\/+$/, '')}${settings.logsPath}`;
    this.http = new HttpClient(settings, settings.timeoutSeconds * 1000);
    const secret = settings.headersFile
      ? HeaderFile.parse(parseYaml(readSecretFile(settings.headersFile)))
      : {};
    this.headers = {
      ...secret,
      'content-type': settings.encoding === 'json' ? 'application/json' : 'application/x-protobuf',
      ...(settings.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
    this.context = recordContext(
      { hostname: hostname(), version: KLAXON_VERSION, instanceId: randomUUID(), extra: settings.resource },
      settings.body,
    );
  }

  private get serializer() {
    return this.settings.encoding === 'json' ? JsonLogsSerializer : ProtobufLogsSerializer;
  }

  /** The request body for a batch, as the collector will receive it. */
  encode(alerts: readonly Alert[]): Uint8Array {
    const records = alerts.map((a) => toLogRecord(a, this.context));
    const body = this.serializer.serializeRequest(records);
    if (!body) throw new Error('the OTLP serializer produced no request');
    return this.settings.compression === 'gzip' ? gzipSync(body) : body;
  }

  async send(alerts: readonly Alert[]): Promise<Array<{ alert: Alert; reason: string }>> {
    const answer = await this.http.post(this.url, this.headers, this.encode(alerts));
    let partial: { rejectedRecords: number; message?: string } | undefined;
    if (answer.status >= 200 && answer.status < 300 && answer.body.length > 0) {
      try {
        const response = this.serializer.deserializeResponse(answer.body);
        const rejected = Number(response.partialSuccess?.rejectedLogRecords ?? 0);
        partial = {
          rejectedRecords: rejected,
          ...(response.partialSuccess?.errorMessage ? { message: response.partialSuccess.errorMessage } : {}),
        };
      } catch {
        // A 2xx whose body cannot be read is still a success (OTLP/HTTP: the body is optional).
      }
    }
    const verdict = classifyOtlp(answer.status, partial);
    if (verdict.kind === 'retry') throw new Error(`OTLP ${this.url}: ${verdict.reason}`);
    if (verdict.kind === 'rejected')
      return alerts.map((alert) => ({ alert, reason: `OTLP ${verdict.reason}` }));
    // The collector does not say which records it dropped; count them, the batch is done.
    if (verdict.rejectedRecords > 0)
      sinkWrites.inc({ sink: this.sink, outcome: 'rejected' }, verdict.rejectedRecords);
    return [];
  }

  /** OTLP has no health endpoint: an empty export request is the probe (any answer but 5xx). */
  async ready(): Promise<boolean> {
    try {
      const answer = await this.http.post(this.url, this.headers, this.encode([]));
      return answer.status < 500;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
