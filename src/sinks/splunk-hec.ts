import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { Alert } from '../schema/alert.ts';
import type { Transport } from './forwarder.ts';
import { classifyHec, HecAckResponse, HecResponse, hecBatches, hecEvent } from './hec-events.ts';
import { HttpClient, readSecretFile } from './http-client.ts';
import type { SplunkHecSinkSettings } from './splunk-hec-settings.ts';

/**
 * Splunk HTTP Event Collector: `POST /services/collector/event` with `Authorization: Splunk
 * <token>`, alerts batched as concatenated event objects. Delivered = HEC answered
 * `{"code":0}`; with `ack: true` (indexer acknowledgement on the token), only once
 * `/services/collector/ack` reports the request's ackId indexed on this sink's channel.
 */

function parseJson<T>(schema: z.ZodType<T>, body: Buffer): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export class SplunkHecTransport implements Transport {
  private readonly settings: SplunkHecSinkSettings;
  private readonly base: string;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string>;
  /** One channel per process: HEC keys acknowledgements by channel. */
  private readonly channel = randomUUID();
  private readonly fallbackHost = hostname();

  constructor(settings: SplunkHecSinkSettings) {
    this.settings = settings;
    this.base = settings.url.replace(/\/+$/, '');
    this.http = new HttpClient(settings, settings.timeoutSeconds * 1000);
    this.headers = {
      authorization: `Splunk ${readSecretFile(settings.tokenFile)}`,
      'content-type': 'application/json',
      ...(settings.ack ? { 'x-splunk-request-channel': this.channel } : {}),
    };
  }

  /** The request bodies for these alerts, as HEC receives them. */
  private requests(alerts: readonly Alert[]): Array<{ from: number; to: number; body: string }> {
    const { sourcetype, source, index, host } = this.settings;
    const events = alerts.map((a) =>
      JSON.stringify(
        hecEvent(a, {
          sourcetype,
          source,
          fallbackHost: this.fallbackHost,
          ...(index ? { index } : {}),
          ...(host ? { host } : {}),
        }),
      ),
    );
    return hecBatches(events, this.settings.batchSize, this.settings.maxBatchBytes);
  }

  async send(alerts: readonly Alert[]): Promise<Array<{ alert: Alert; reason: string }>> {
    const refused: Array<{ alert: Alert; reason: string }> = [];
    for (const request of this.requests(alerts)) {
      const answer = await this.http.post(
        `${this.base}/services/collector/event`,
        this.headers,
        request.body,
      );
      const body = parseJson(HecResponse, answer.body);
      const verdict = classifyHec(answer.status, body);
      const batch = alerts.slice(request.from, request.to);
      if (verdict.kind === 'retry') throw new Error(`HEC: ${verdict.reason}`);
      if (verdict.kind === 'rejected') {
        const bad = verdict.invalidEvent;
        if (bad === undefined || bad >= batch.length) {
          refused.push(...batch.map((alert) => ({ alert, reason: `HEC ${verdict.reason}` })));
          continue;
        }
        // HEC names the event it could not take; the others are sent again (some may now be there twice).
        refused.push({ alert: batch[bad]!, reason: `HEC ${verdict.reason}` });
        refused.push(...(await this.send([...batch.slice(0, bad), ...batch.slice(bad + 1)])));
        continue;
      }
      if (this.settings.ack) {
        if (body?.ackId === undefined)
          throw new Error('HEC answered without an ackId: is acknowledgement enabled on the token?');
        await this.awaitAck(body.ackId);
      }
    }
    return refused;
  }

  /** Polls `/services/collector/ack` until the request is indexed; throws (the batch is sent again) past the timeout. */
  private async awaitAck(ackId: number): Promise<void> {
    const deadline = Date.now() + this.settings.ackTimeoutSeconds * 1000;
    const url = `${this.base}/services/collector/ack?channel=${encodeURIComponent(this.channel)}`;
    while (Date.now() < deadline) {
      await sleep(this.settings.ackPollMs);
      const answer = await this.http.post(url, this.headers, JSON.stringify({ acks: [ackId] }));
      if (answer.status !== 200) throw new Error(`HEC ack query: status ${answer.status}`);
      const acks = parseJson(HecAckResponse, answer.body);
      if (acks?.acks[String(ackId)] === true) return;
    }
    throw new Error(`HEC did not acknowledge request ${ackId} within ${this.settings.ackTimeoutSeconds} s`);
  }

  /** `GET /services/collector/health`: 200 when HEC takes data. */
  async ready(): Promise<boolean> {
    try {
      const answer = await this.http.get(`${this.base}/services/collector/health`);
      return answer.status === 200;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
