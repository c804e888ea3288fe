import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { auditDataset } from '../datasets/audit.ts';
import { cloudwatchErrors, cloudwatchEvents, cloudwatchLagSeconds } from '../metrics.ts';
import { eksAuditFromFilterLogEvents } from '../normalize/cloudwatch.ts';
import { sourceItems } from './cloud-items.ts';
import { backoffMs, type ClassifiedError, classifyError } from './cloudwatch-errors.ts';
import { type CloudWatchSourceSettings, logGroupOf } from './cloudwatch-settings.ts';
import { type DatedLogEvent, type Query, ReadWindow, type WindowOptions } from './cloudwatch-window.ts';
import type { PullSource, SourceContext, SourceModule } from './types.ts';

/** Longest wait between failed polls (a deleted group, an outage, refused credentials). */
const MAX_BACKOFF_MS = 5 * 60_000;
/** The size check is the accept path's (`ingest.auditEventLimit`, measured on the message's bytes). */
const NO_SIZE_LIMIT = { maxEventBytes: Number.POSITIVE_INFINITY, maxInflatedBytes: 0 };

/** The checkpoint store failed: nothing else is wrong, but progress cannot be kept. */
class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/**
 * Reads an EKS cluster's audit log from CloudWatch Logs (`type: cloudwatch`): FilterLogEvents over the log
 * group's audit streams (new streams included, whenever they start), page by page; each page's new events go
 * through the accept path, and only then are their ids remembered and the checkpoint saved. `ReadWindow`
 * decides what to search and what was already delivered. Credentials, region and endpoint come from the AWS
 * SDK's default chain (IRSA, EKS Pod Identity, instance role, environment; `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`).
 */
class CloudWatchReader implements PullSource {
  private readonly config: CloudWatchSourceSettings;
  private readonly ctx: SourceContext;
  private readonly logGroup: string;
  private readonly key: string;
  private readonly windowOptions: WindowOptions;
  private readonly labels: { source: string; cluster: string };
  private client: CloudWatchLogsClient;
  private readonly abort = new AbortController();
  private running = false;
  private loop: Promise<void> | undefined;
  private problem: string | undefined;
  private window: ReadWindow | undefined;
  /** When the last late scan completed; the first search after a start is one. */
  private lastLateScan = Number.NEGATIVE_INFINITY;
  private scannedOnce = false;
  private lastSave = 0;
  private dirty = false;

  constructor(config: CloudWatchSourceSettings, ctx: SourceContext) {
    this.config = config;
    this.ctx = ctx;
    this.logGroup = logGroupOf(config);
    this.key = `cloudwatch/${ctx.name}/${config.region ?? 'default-region'}${this.logGroup}`;
    this.windowOptions = {
      overlapMs: config.overlapSeconds * 1000,
      latenessMs: config.latenessSeconds * 1000,
      lateScanMs: config.lateScanSeconds * 1000,
      maxTracked: config.maxTrackedEvents,
    };
    this.labels = { source: ctx.name, cluster: config.cluster };
    this.client = this.newClient();
  }

  private newClient(): CloudWatchLogsClient {
    return new CloudWatchLogsClient({
      ...(this.config.region ? { region: this.config.region } : {}),
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
    });
  }

  async start(): Promise<void> {
    this.running = true;
    this.ctx.logger.info(
      { source: this.ctx.name, logGroup: this.logGroup, region: this.config.region },
      'reading EKS audit logs from CloudWatch Logs',
    );
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
    if (this.dirty && this.window) await this.save().catch(() => undefined);
    this.client.destroy();
  }

  status(): { ok: boolean; reason?: string } {
    return this.problem ? { ok: false, reason: this.problem } : { ok: true };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let delay = this.config.pollSeconds * 1000;
      try {
        this.window ??= await this.load();
        await this.poll(this.window);
        this.problem = undefined;
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        failures++;
        delay = this.failed(err, failures);
      }
      this.updateLag();
      await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  private failed(err: unknown, failures: number): number {
    const classified: ClassifiedError =
      err instanceof CheckpointError
        ? { kind: 'checkpoint', reason: err.message, renewClient: false }
        : classifyError(err, this.logGroup);
    this.problem = classified.reason;
    cloudwatchErrors.inc({ ...this.labels, kind: classified.kind });
    this.ctx.logger.warn(
      { source: this.ctx.name, kind: classified.kind, failures },
      `CloudWatch Logs source: ${classified.reason}`,
    );
    if (classified.renewClient) {
      this.client.destroy();
      this.client = this.newClient();
    }
    const pollMs = this.config.pollSeconds * 1000;
    return backoffMs(failures, pollMs, Math.max(pollMs, MAX_BACKOFF_MS), Math.random());
  }

  private async load(): Promise<ReadWindow> {
    let saved: string | undefined;
    try {
      saved = await this.ctx.checkpoints.load(this.key);
    } catch (err) {
      throw new CheckpointError(`cannot load the checkpoint: ${(err as Error).message}`);
    }
    if (saved !== undefined) {
      const restored = ReadWindow.restore(saved, this.windowOptions);
      if (restored) return restored;
      this.ctx.logger.warn(
        { source: this.ctx.name, startAt: this.config.startAt },
        'CloudWatch Logs source: the saved checkpoint is unreadable; starting as configured',
      );
    }
    return ReadWindow.start(this.config.startAt, Date.now(), this.windowOptions);
  }

  /** Searches until caught up with now; a late scan first when one is due. */
  private async poll(window: ReadWindow): Promise<void> {
    const pollMs = this.config.pollSeconds * 1000;
    let late = Date.now() - this.lastLateScan >= this.windowOptions.lateScanMs;
    do {
      const began = Date.now();
      const query = window.next(began, late);
      if (!(await this.search(window, query))) return;
      if (query.late) this.lastLateScan = began;
      this.scannedOnce = true;
      this.dirty = true;
      late = false;
    } while (this.running && !window.caughtUp(Date.now(), pollMs));
    // Ids are saved with every page that delivered something; `until` alone may wait (a restart re-reads more).
    if (Date.now() - this.lastSave >= this.windowOptions.lateScanMs) await this.save();
  }

  /** One query, every page; false when stopped before its end (it is then searched again). */
  private async search(window: ReadWindow, query: Query): Promise<boolean> {
    let nextToken: string | undefined;
    let found = 0;
    do {
      const page = await this.client.send(
        new FilterLogEventsCommand({
          logGroupName: this.logGroup,
          logStreamNamePrefix: this.config.logStreamPrefix,
          startTime: query.startTime,
          endTime: query.endTime,
          nextToken,
          // Deprecated and always on in CloudWatch; without it moto returns the events stream by stream.
          interleaved: true,
        }),
        { abortSignal: this.abort.signal },
      );
      const events = page.events ?? [];
      found += events.length;
      await this.deliver(window, events, query);
      nextToken = page.nextToken;
    } while (nextToken && this.running);
    if (nextToken) return false;
    window.complete(query, found);
    return true;
  }

  private async deliver(
    window: ReadWindow,
    events: readonly FilteredLogEvent[],
    query: Query,
  ): Promise<void> {
    const prefix = this.config.logStreamPrefix;
    const ours = events.filter((e) => e.logStreamName === undefined || e.logStreamName.startsWith(prefix));
    const sorted = window.sort(ours);
    cloudwatchEvents.inc({ ...this.labels, outcome: 'repeat' }, sorted.repeats);
    cloudwatchEvents.inc(
      { ...this.labels, outcome: 'ignored' },
      events.length - ours.length + sorted.skipped,
    );
    if (sorted.fresh.length === 0) return;
    await this.accept(sorted.fresh);
    const forgotten = window.record(sorted.fresh);
    if (forgotten > 0) {
      cloudwatchErrors.inc({ ...this.labels, kind: 'overflow' });
      this.ctx.logger.warn(
        { source: this.ctx.name, forgotten, maxTrackedEvents: this.config.maxTrackedEvents },
        'CloudWatch Logs source: too many event ids to remember; the late scan reaches back less far',
      );
    }
    const outcome = query.late && this.scannedOnce ? 'late' : 'new';
    cloudwatchEvents.inc({ ...this.labels, outcome }, sorted.fresh.length);
    await this.save();
  }

  private async accept(fresh: readonly DatedLogEvent<FilteredLogEvent>[]): Promise<void> {
    // Without stream names every event gives exactly one item, in order (the prefix was checked above).
    const converted = eksAuditFromFilterLogEvents(
      { events: fresh.map((e) => ({ message: e.message })) },
      this.logGroup,
      NO_SIZE_LIMIT,
    );
    const sizes = fresh.map((e) => Buffer.byteLength(e.message ?? ''));
    await this.ctx.accept.accept({
      dataset: auditDataset,
      cluster: this.config.cluster,
      items: sourceItems(converted.items, 0, sizes),
      receivedAt: new Date().toISOString(),
    });
  }

  private async save(): Promise<void> {
    const window = this.window!;
    try {
      await this.ctx.checkpoints.save(this.key, window.toCheckpoint());
    } catch (err) {
      throw new CheckpointError(`cannot save the checkpoint: ${(err as Error).message}`);
    }
    this.lastSave = Date.now();
    this.dirty = false;
  }

  private updateLag(): void {
    const newest = this.window?.newest;
    if (newest !== undefined) cloudwatchLagSeconds.set(this.labels, (Date.now() - newest) / 1000);
  }
}

export const cloudwatchSource: SourceModule<CloudWatchSourceSettings> = {
  create: (config, ctx) => new CloudWatchReader(config, ctx),
};
