import { displaySafe } from '../detect/display.ts';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { compileFilter, type SinkFilter } from './filter.ts';
import { backoffMs, DEFAULT_RETRY, pause, type RetryPolicy } from './retry.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from './sink.ts';

export interface AlertmanagerOptions {
  /** The sink's name in metrics and dead letters. Default `alertmanager`. */
  name?: string;
  /** Base URL, e.g. `http://alertmanager:9093`. */
  url: string;
  /** Which alerts page (the others still reach the other sinks). Default: `medium` and above. */
  filter?: SinkFilter;
  /** An alert resolves this long after it was last sent, unless raised again. Default 1 h. */
  resolveAfterMs?: number;
  /** Runbook links: `<runbookBaseUrl>/<rule.name>`; without it, the rule's first reference. */
  runbookBaseUrl?: string;
  retry?: RetryPolicy;
  requestTimeoutMs?: number;
}

/** One alert as Alertmanager's `POST /api/v2/alerts` takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** Label values are keys for grouping and silences: short. */
const MAX_LABEL_CHARS = 256;

/** Alertmanager renders labels and annotations into Slack, e-mail and PagerDuty: no hidden characters there. */
function displayValues(values: Record<string, string>, maxChars?: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = displaySafe(v, maxChars);
  return out;
}

/**
 * Labels identify the alert in Alertmanager: reposting the same alert (a retry, a replay, a
 * later revision) updates it instead of adding one, because `alert_id` is deterministic.
 */
export function toPostable(
  alert: Alert,
  opts: { resolveAfterMs: number; runbookBaseUrl?: string },
  now: Date = new Date(),
): PostableAlert {
  const labels: Record<string, string> = {
    alertname: alert.rule.name,
    severity: alert.klaxon.severity,
    rule_id: alert.rule.id,
    alert_id: alert.klaxon.alert_id,
  };
  const cluster = alert.orchestrator?.cluster?.name;
  if (cluster) labels.cluster = cluster;
  const namespace = alert.orchestrator?.namespace;
  if (namespace) labels.namespace = namespace;

  const annotations: Record<string, string> = { summary: alert.message };
  if (alert.rule.description) annotations.description = alert.rule.description;
  const runbook = opts.runbookBaseUrl
    ? `${opts.runbookBaseUrl.replace(/\/+$/, '')}/${alert.rule.name}`
    : alert.rule.reference?.[0];
  if (runbook) annotations.runbook_url = runbook;

  const started = Date.parse(alert['@timestamp']);
  return {
    labels: displayValues(labels, MAX_LABEL_CHARS),
    annotations: displayValues(annotations),
    startsAt: Number.isNaN(started) ? now.toISOString() : new Date(started).toISOString(),
    endsAt: new Date(now.getTime() + opts.resolveAfterMs).toISOString(),
  };
}

/** Pages on-call: alerts at or above the minimum level to Alertmanager. */
export class AlertmanagerSink implements Sink {
  readonly name: string;
  private readonly url: string;
  private readonly accepts: (alert: Alert) => boolean;
  private readonly resolveAfterMs: number;
  private readonly runbookBaseUrl: string | undefined;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(opts: AlertmanagerOptions) {
    this.name = opts.name ?? 'alertmanager';
    this.url = opts.url.replace(/\/+$/, '');
    this.accepts = compileFilter(
      opts.filter ?? { minLevel: 'medium', rules: [], excludeRules: [], tags: [] },
    );
    this.resolveAfterMs = opts.resolveAfterMs ?? 3_600_000;
    this.runbookBaseUrl = opts.runbookBaseUrl;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
  }

  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    const selected = alerts.filter(this.accepts);
    if (selected.length === 0) return [];
    const body = selected.map((a) =>
      toPostable(a, { resolveAfterMs: this.resolveAfterMs, runbookBaseUrl: this.runbookBaseUrl }),
    );
    let lastReason = '';
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await pause(backoffMs(this.retry, attempt - 1));
      try {
        const response = await fetch(`${this.url}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await response.text();
        if (response.ok) {
          sinkWrites.inc({ sink: this.name, outcome: 'ok' }, selected.length);
          return [];
        }
        lastReason = `status ${response.status}: ${text.slice(0, 500)}`;
        if (response.status === 400 || response.status === 422) {
          // Alertmanager refused the payload itself: retrying cannot help.
          sinkWrites.inc({ sink: this.name, outcome: 'rejected' }, selected.length);
          return selected.map((alert) => ({ alert, sink: this.name, reason: `alertmanager ${lastReason}` }));
        }
      } catch (error) {
        lastReason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      sinkWrites.inc({ sink: this.name, outcome: 'retry' }, selected.length);
    }
    sinkWrites.inc({ sink: this.name, outcome: 'error' }, selected.length);
    throw new SinkUnavailableError(this.name, `${selected.length} alert(s) not delivered: ${lastReason}`);
  }

  async ready(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {}
}
