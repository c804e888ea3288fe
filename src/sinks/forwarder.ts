import type { Logger } from '../log.ts';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { compileFilter, type SinkFilter } from './filter.ts';
import { Outbox, OutboxFullError } from './outbox.ts';
import { backoffMs, type RetryPolicy } from './retry.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from './sink.ts';

/**
 * The protocol half of a SIEM sink (syslog, OTLP, Splunk HEC): it only knows how to hand
 * alerts to its receiver. Filtering, retries, the durable buffer and metrics are the
 * ForwardingSink's, the same for every protocol.
 */
export interface Transport {
  /**
   * Resolves once the receiver has every alert, except those it refused for good (returned
   * with the reason). Throws when the receiver cannot take them now (retried).
   */
  send(alerts: readonly Alert[]): Promise<Array<{ alert: Alert; reason: string }>>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ForwardingSinkOptions {
  /** The instance's name from the settings: the metrics label and the dead-letter detail. */
  name: string;
  filter: SinkFilter;
  transport: Transport;
  retry: RetryPolicy;
  /** Alerts handed to the transport at once. */
  batchSize: number;
  /**
   * `spool`: alerts are acknowledged once in this sink's durable buffer (the detector commits),
   * and sent from there; `hold`: acknowledged only once the receiver has them (the detector
   * holds its commit meanwhile).
   */
  delivery: { mode: 'spool'; dir: string; maxBytes: number } | { mode: 'hold' };
  logger: Logger;
  /** Where alerts the receiver refused for good go when no caller waits for them (spool mode). */
  onRejected?: (rejected: RejectedAlert[]) => Promise<void>;
  /** How many alert revisions to remember for skipping re-writes of a retried chunk. Default 100 000. */
  rememberLast?: number;
}

/**
 * Wakes waiters together; a wait may also end by timeout. A notification with nobody
 * waiting is kept for the next wait, so work that arrives between a check and the wait is
 * not missed.
 */
class Wakeup {
  private waiters: Array<() => void> = [];
  private signalled = false;
  wait(ms?: number): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer =
        ms === undefined
          ? undefined
          : setTimeout(() => {
              this.waiters = this.waiters.filter((w) => w !== wake);
              resolve();
            }, ms);
      this.waiters.push(wake);
    });
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    if (waiters.length === 0) this.signalled = true;
    for (const w of waiters) w();
  }
}

const key = (a: Alert) => `${a.klaxon.alert_id}#${a.klaxon.revision}`;

/**
 * A sink for a SIEM receiver, idempotent within the process: a chunk the detector retries
 * (because another sink failed) is not written again, since neither syslog nor HEC nor OTLP
 * deduplicates. Across a crash, a chunk written but not committed is written again: at
 * least once (docs/reliability.md says what that means per protocol).
 */
export class ForwardingSink implements Sink {
  readonly name: string;
  private readonly opts: ForwardingSinkOptions;
  private readonly accepts: (alert: Alert) => boolean;
  private readonly seen = new Set<string>();
  private readonly outbox: Outbox | undefined;
  private readonly opened: Promise<void> | undefined;
  private openError: Error | undefined;
  /** New alerts in the buffer. */
  private readonly work = new Wakeup();
  /** `close()`: ends backoff waits early. */
  private readonly stopping = new Wakeup();
  private running = true;
  private drainer: Promise<void> | undefined;

  constructor(opts: ForwardingSinkOptions) {
    this.name = opts.name;
    this.opts = opts;
    this.accepts = compileFilter(opts.filter);
    if (opts.delivery.mode === 'spool') {
      const outbox = new Outbox({
        dir: opts.delivery.dir,
        maxBytes: opts.delivery.maxBytes,
        sink: opts.name,
        logger: opts.logger,
      });
      this.outbox = outbox;
      // Opened at once, so alerts an earlier run left are sent even before a new one arrives.
      this.opened = outbox.open().then(
        () => {
          this.drainer = this.drain(outbox);
        },
        (error: Error) => {
          this.openError = error;
          opts.logger.error({ err: error, sink: opts.name }, 'sink buffer cannot be opened');
        },
      );
    }
  }

  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    const fresh: Alert[] = [];
    for (const alert of alerts) {
      if (!this.accepts(alert)) continue;
      if (this.seen.has(key(alert))) sinkWrites.inc({ sink: this.name, outcome: 'duplicate' });
      else fresh.push(alert);
    }
    if (fresh.length === 0) return [];
    if (this.outbox) {
      await this.opened;
      if (this.openError) throw new SinkUnavailableError(this.name, this.openError.message);
      try {
        await this.outbox.append(fresh);
      } catch (error) {
        sinkWrites.inc({ sink: this.name, outcome: 'error' }, fresh.length);
        const reason =
          error instanceof OutboxFullError ? `${error.message}; receiver unreachable?` : String(error);
        throw new SinkUnavailableError(this.name, reason, { cause: error });
      }
      sinkWrites.inc({ sink: this.name, outcome: 'spooled' }, fresh.length);
      this.remember(fresh);
      this.work.notify();
      return [];
    }
    const refused: RejectedAlert[] = [];
    for (let i = 0; i < fresh.length; i += this.opts.batchSize) {
      const batch = fresh.slice(i, i + this.opts.batchSize);
      const refusedNow = await this.send(batch);
      refused.push(...refusedNow);
      // Refused alerts are not remembered: if their dead letter fails, the retried chunk refuses them again.
      const gone = new Set(refusedNow.map((r) => r.alert));
      this.remember(batch.filter((a) => !gone.has(a)));
    }
    return refused;
  }

  /** One batch to the receiver, with bounded retries and backoff; throws SinkUnavailableError after the last. */
  private async send(batch: readonly Alert[]): Promise<RejectedAlert[]> {
    const { retry } = this.opts;
    let lastReason = '';
    for (let attempt = 0; attempt < retry.attempts && this.running; attempt++) {
      if (attempt > 0) await this.stopping.wait(backoffMs(retry, attempt - 1));
      try {
        const refused = await this.opts.transport.send(batch);
        sinkWrites.inc({ sink: this.name, outcome: 'ok' }, batch.length - refused.length);
        if (refused.length > 0) sinkWrites.inc({ sink: this.name, outcome: 'rejected' }, refused.length);
        return refused.map((r) => ({ alert: r.alert, sink: this.name, reason: r.reason }));
      } catch (error) {
        lastReason = error instanceof Error ? error.message : String(error);
        sinkWrites.inc({ sink: this.name, outcome: 'retry' }, batch.length);
      }
    }
    sinkWrites.inc({ sink: this.name, outcome: 'error' }, batch.length);
    throw new SinkUnavailableError(this.name, `${batch.length} alert(s) not delivered: ${lastReason}`);
  }

  /**
   * Sends the buffer oldest first. A receiver that stays down after the bounded retries is
   * probed again after the longest backoff, for as long as it takes: the alerts are on disk.
   */
  private async drain(outbox: Outbox): Promise<void> {
    let failing = false;
    while (this.running) {
      const batch = await outbox.peek(this.opts.batchSize).catch((error: unknown) => {
        this.opts.logger.error({ err: error, sink: this.name }, 'sink buffer unreadable');
        return undefined;
      });
      if (batch === undefined) {
        await this.stopping.wait(this.opts.retry.maxMs);
        continue;
      }
      if (batch.length === 0) {
        await this.work.wait();
        continue;
      }
      try {
        const refused = await this.send(batch);
        if (refused.length > 0) await this.reject(refused);
        await outbox.ack(batch.length);
        if (failing)
          this.opts.logger.info(
            { sink: this.name, waiting: outbox.depth.alerts },
            'receiver reachable again',
          );
        failing = false;
      } catch (error) {
        if (!this.running) return;
        if (!failing) {
          this.opts.logger.warn(
            { err: error, sink: this.name, waiting: outbox.depth.alerts },
            'receiver unavailable; alerts wait in the sink buffer',
          );
        }
        failing = true;
        await this.stopping.wait(this.opts.retry.maxMs);
      }
    }
  }

  /** Refused alerts leave the buffer only once the dead-letter topic (or the log) has them. */
  private async reject(refused: RejectedAlert[]): Promise<void> {
    if (this.opts.onRejected) {
      await this.opts.onRejected(refused);
      return;
    }
    for (const r of refused) {
      this.opts.logger.error(
        { sink: r.sink, rule: r.alert.rule.name, alertId: r.alert.klaxon.alert_id },
        `alert refused: ${r.reason}`,
      );
    }
  }

  private remember(alerts: readonly Alert[]): void {
    const limit = this.opts.rememberLast ?? 100_000;
    for (const alert of alerts) {
      this.seen.add(key(alert));
      if (this.seen.size > limit) {
        const oldest = this.seen.values().next().value;
        if (oldest !== undefined) this.seen.delete(oldest);
      }
    }
  }

  /**
   * Spool mode: ready while the buffer takes alerts (a dead receiver does not stop detection;
   * `klaxon_sink_queue_alerts` shows the backlog). Hold mode: the receiver answers.
   */
  async ready(): Promise<boolean> {
    if (this.outbox) {
      await this.opened;
      return this.openError === undefined && !this.outbox.full;
    }
    return this.opts.transport.ready();
  }

  /** Stops sending; alerts still buffered stay on disk for the next start. */
  async close(): Promise<void> {
    this.running = false;
    this.work.notify();
    this.stopping.notify();
    await this.opened;
    // Closing the transport ends a request or write in flight, so shutdown does not wait out its timeout.
    await Promise.all([this.drainer, this.opts.transport.close()]);
    await this.outbox?.close();
  }
}
