import { readFileSync } from 'node:fs';
import { Client, type ClientOptions, type estypes } from '@elastic/elasticsearch';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { ALERT_MAPPINGS, EVENT_MAPPINGS, indexPatterns, indexTemplate } from './elasticsearch-template.ts';
import { backoffMs, DEFAULT_RETRY, pause, type RetryPolicy } from './retry.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from './sink.ts';

export interface ElasticsearchOptions {
  url: string;
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM file of the CA that signed the cluster's certificate. */
  caFile?: string;
  /** Index names start with it: `<prefix>-alerts-YYYY.MM.DD`. Default `klaxon`. */
  indexPrefix?: string;
  /** Also index normalized events into `<prefix>-events-*` (off by default). */
  indexEvents?: boolean;
  /** Oldest event date (days before now) that gets a daily index of its own. Default 30. */
  maxEventAgeDays?: number;
  retry?: RetryPolicy;
  requestTimeoutMs?: number;
}

/** One document of a bulk request. */
export interface BulkDoc {
  index: string;
  id: string;
  /** `create` never overwrites (a 409 means "already there"); `index` overwrites. */
  op: 'create' | 'index';
  doc: object;
}

export type BulkOutcome =
  | { kind: 'ok' }
  | { kind: 'duplicate' }
  | { kind: 'retry'; reason: string }
  | { kind: 'rejected'; reason: string };

const DAY_MS = 86_400_000;
export const DEFAULT_MAX_EVENT_AGE_DAYS = 30;

/** Which event dates get a daily index of their own. */
export interface IndexDates {
  now?: Date;
  maxEventAgeDays?: number;
}

/**
 * `<base>-YYYY.MM.DD` by the EVENT's date (UTC), so a replay of recent events lands next to them. Event dates
 * come from senders, so only the last `maxEventAgeDays` days (and tomorrow, for clock skew across midnight) get
 * a daily index; anything else goes to `<base>-out-of-range`: no sender can make Elasticsearch create indices
 * (and shards) for arbitrary dates.
 */
export function dailyIndex(base: string, timestamp: string, dates: IndexDates = {}): string {
  const now = (dates.now ?? new Date()).getTime();
  const parsed = Date.parse(timestamp);
  const t = Number.isNaN(parsed) ? now : parsed;
  const oldest = Math.floor(now / DAY_MS - (dates.maxEventAgeDays ?? DEFAULT_MAX_EVENT_AGE_DAYS)) * DAY_MS;
  if (t < oldest || t >= (Math.floor(now / DAY_MS) + 2) * DAY_MS) return `${base}-out-of-range`;
  return `${base}-${new Date(t).toISOString().slice(0, 10).replaceAll('-', '.')}`;
}

/**
 * The first raising of an alert (`revision` 0) is created once and never overwritten;
 * a later revision (the final count when its window closes) overwrites, which is still
 * idempotent because the same revision always carries the same content.
 */
export function alertDocs(base: string, alerts: readonly Alert[], dates: IndexDates = {}): BulkDoc[] {
  return alerts.map((alert) => ({
    index: dailyIndex(base, alert['@timestamp'], dates),
    id: alert.klaxon.alert_id,
    op: alert.klaxon.revision === 0 ? 'create' : 'index',
    doc: alert,
  }));
}

export function eventDocs(
  base: string,
  events: readonly NormalizedEvent[],
  dates: IndexDates = {},
): BulkDoc[] {
  return events.map((event) => ({
    index: dailyIndex(base, event['@timestamp'], dates),
    id: event.event.id,
    op: 'create',
    doc: event,
  }));
}

export function bulkBody(docs: readonly BulkDoc[]): estypes.BulkRequest['operations'] {
  return docs.flatMap((d) => [{ [d.op]: { _index: d.index, _id: d.id } }, d.doc]);
}

/** What one bulk item's answer means for Klaxon. */
export function classifyItem(op: BulkDoc['op'], item: estypes.BulkResponseItem | undefined): BulkOutcome {
  if (!item) return { kind: 'retry', reason: 'no answer for this item' };
  const status = item.status;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 409 && op === 'create') return { kind: 'duplicate' };
  const reason = item.error ? `${item.error.type}: ${item.error.reason ?? ''}`.trim() : `status ${status}`;
  if (status === 429 || status >= 500) return { kind: 'retry', reason };
  return { kind: 'rejected', reason };
}

export function clientOptions(opts: ElasticsearchOptions): ClientOptions {
  const options: ClientOptions = {
    node: opts.url,
    // Klaxon retries itself (bounded, counted); the client's own retries would hide outages.
    maxRetries: 0,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
  };
  if (opts.apiKey) options.auth = { apiKey: opts.apiKey };
  else if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  if (opts.caFile) options.tls = { ca: readFileSync(opts.caFile) };
  return options;
}

/**
 * Alerts (and optionally normalized events) into Elasticsearch. Templates are installed
 * before the first write (idempotent PUT), and again after a failure, so the detector starts
 * even while Elasticsearch is down and is simply not ready until it answers.
 */
export class ElasticsearchSink implements Sink {
  readonly name = 'elasticsearch';
  readonly client: Client;
  readonly alertsBase: string;
  readonly eventsBase: string;
  readonly indexEvents: boolean;
  private readonly maxEventAgeDays: number;
  private readonly retry: RetryPolicy;
  private templatesInstalled = false;

  constructor(opts: ElasticsearchOptions, client?: Client) {
    this.client = client ?? new Client(clientOptions(opts));
    const bases = indexPatterns(opts.indexPrefix ?? 'klaxon');
    this.alertsBase = bases.alerts;
    this.eventsBase = bases.events;
    this.indexEvents = opts.indexEvents ?? false;
    this.maxEventAgeDays = opts.maxEventAgeDays ?? DEFAULT_MAX_EVENT_AGE_DAYS;
    this.retry = opts.retry ?? DEFAULT_RETRY;
  }

  /** Installs (or updates) the index templates; safe to call any number of times. */
  async installTemplates(): Promise<void> {
    await this.client.indices.putIndexTemplate(indexTemplate(this.alertsBase, ALERT_MAPPINGS));
    if (this.indexEvents)
      await this.client.indices.putIndexTemplate(indexTemplate(this.eventsBase, EVENT_MAPPINGS));
    this.templatesInstalled = true;
  }

  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    if (alerts.length === 0) return [];
    const dates = { maxEventAgeDays: this.maxEventAgeDays };
    const outcomes = await this.bulk(alertDocs(this.alertsBase, alerts, dates));
    const rejected: RejectedAlert[] = [];
    outcomes.forEach((outcome, i) => {
      const alert = alerts[i];
      if (outcome.kind === 'rejected' && alert)
        rejected.push({ alert, sink: this.name, reason: outcome.reason });
    });
    return rejected;
  }

  /** Normalized events for hunting; returns the events Elasticsearch refused, with the reason. */
  async writeEvents(
    events: readonly NormalizedEvent[],
  ): Promise<Array<{ event: NormalizedEvent; reason: string }>> {
    if (!this.indexEvents || events.length === 0) return [];
    const dates = { maxEventAgeDays: this.maxEventAgeDays };
    const outcomes = await this.bulk(eventDocs(this.eventsBase, events, dates));
    const refused: Array<{ event: NormalizedEvent; reason: string }> = [];
    outcomes.forEach((outcome, i) => {
      const event = events[i];
      if (outcome.kind === 'rejected' && event) refused.push({ event, reason: outcome.reason });
    });
    return refused;
  }

  /**
   * One bulk request, then again for the items that failed transiently, a bounded number of
   * times. Returns a final outcome per document; throws SinkUnavailableError when items still
   * fail transiently (or the cluster does not answer) after the last attempt.
   */
  async bulk(docs: readonly BulkDoc[]): Promise<BulkOutcome[]> {
    const outcomes: BulkOutcome[] = docs.map(() => ({ kind: 'retry', reason: 'not sent' }));
    let pending = docs.map((_, i) => i);
    let lastReason = '';
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await pause(backoffMs(this.retry, attempt - 1));
      try {
        if (!this.templatesInstalled) await this.installTemplates();
        const batch = pending.map((i) => docs[i]!);
        const response = await this.client.bulk({ operations: bulkBody(batch) });
        const retryNext: number[] = [];
        response.items.forEach((item, j) => {
          const index = pending[j]!;
          const doc = docs[index]!;
          const outcome = classifyItem(doc.op, item[doc.op]);
          outcomes[index] = outcome;
          if (outcome.kind === 'retry') {
            retryNext.push(index);
            lastReason = outcome.reason;
          }
          sinkWrites.inc({ sink: this.name, outcome: outcome.kind });
        });
        pending = retryNext;
        if (pending.length === 0) return outcomes;
      } catch (error) {
        // The whole request failed: connection refused, timeout, 429/5xx, or auth. None of
        // these says anything about a single document, so all are transient from here.
        this.templatesInstalled = false;
        lastReason = describeError(error);
        sinkWrites.inc({ sink: this.name, outcome: 'retry' }, pending.length);
      }
    }
    sinkWrites.inc({ sink: this.name, outcome: 'error' }, pending.length);
    throw new SinkUnavailableError(this.name, `${pending.length} document(s) not stored: ${lastReason}`);
  }

  /** Cluster health rather than `HEAD /`, which minimal distributions do not serve. */
  async ready(): Promise<boolean> {
    try {
      const health = await this.client.cluster.health({ timeout: '2s' });
      return health.status !== 'red';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
    return status ? `${error.name} (${status}): ${error.message}` : `${error.name}: ${error.message}`;
  }
  return String(error);
}
