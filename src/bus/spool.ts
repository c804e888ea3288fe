import { mkdir, readFile, unlink } from 'node:fs/promises';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { spoolBytes, spoolCorrupt, spoolDrained, spoolDropped, spoolEvents } from '../metrics.ts';
import { SegmentLog } from './segment-log.ts';
import { decodeSegment, encodeRecord, type SpooledMessage } from './spool-record.ts';
import type { Bus, BusMessage, SubscribeOptions, Subscription } from './types.ts';
import { BusUnavailableError } from './types.ts';

export interface SpoolOptions {
  /** Directory of the segment files; created when missing. Must be on a persistent volume. */
  dir: string;
  /** Bytes on disk the spool may use; beyond it `produce` fails with `SpoolFullError`. */
  maxBytes: number;
  /** A segment is closed once it holds this many bytes (default: maxBytes / 16, 1-64 MiB). */
  segmentBytes?: number;
  /** How long `produce` waits for the inner bus before spooling instead (default 2000 ms). */
  directTimeoutMs?: number;
  /** Drainer back-off while the inner bus is down (default 250 ms doubling to 5000 ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Upper bounds of one drain request to the inner bus. */
  drainMessages?: number;
  drainBytes?: number;
  /**
   * Start even when the inner bus cannot start (ingest keeps accepting into the spool and
   * connects later). Off for processes that also consume from the bus.
   */
  startOffline?: boolean;
  logger: Logger;
}

/** The spool has no room for the messages: answer 503 + Retry-After. */
export class SpoolFullError extends BusUnavailableError {
  override name = 'SpoolFullError';
}

export interface SpoolStatus {
  /** True while events wait in the spool or the inner bus is not reachable. */
  degraded: boolean;
  /** Whether the inner bus (Kafka) took the last request sent to it. */
  kafka: boolean;
  spool: { events: number; bytes: number; maxBytes: number; segments: number };
}

/** Wakes waiters together. */
class Signal {
  private waiters: Array<() => void> = [];
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusUnavailableError(`no acknowledgement within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A Bus decorator that makes ingest durable through Kafka outages. `produce` first tries the
 * inner bus with a short timeout; when that fails, or while earlier events still wait, the
 * messages are appended to segment files on disk (length-prefixed, CRC32-checked records,
 * fsync'ed per group of appends) and `produce` resolves once they are durable. A drainer sends
 * the spooled messages to the inner bus oldest first, and deletes a segment once every record
 * of it is acknowledged. New messages queue behind the spool, so per-key order holds.
 *
 * At-least-once: a crash between an acknowledgement and a segment's deletion re-sends that
 * segment after restart; consumers dedupe by `event.id`.
 */
export class SpoolBus implements Bus {
  private readonly inner: Bus;
  private readonly options: Required<Omit<SpoolOptions, 'logger'>>;
  private readonly logger: Logger;
  private readonly log: SegmentLog;
  /** Messages spooled (written or pending) and not yet drained. */
  private events = 0;
  private readonly work = new Signal();
  private running = false;
  private innerStarted = false;
  private innerOk = true;
  private drainer: Promise<void> | undefined;

  constructor(inner: Bus, options: SpoolOptions) {
    this.inner = inner;
    this.logger = options.logger.child({ component: 'spool' });
    this.options = {
      dir: options.dir,
      maxBytes: options.maxBytes,
      segmentBytes:
        options.segmentBytes ??
        Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.floor(options.maxBytes / 16))),
      directTimeoutMs: options.directTimeoutMs ?? 2000,
      retryMinMs: options.retryMinMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 5000,
      drainMessages: options.drainMessages ?? 2000,
      drainBytes: options.drainBytes ?? 512 * 1024,
      startOffline: options.startOffline ?? false,
    };
    this.log = new SegmentLog({
      dir: this.options.dir,
      prefix: 'spool',
      segmentBytes: this.options.segmentBytes,
      onWriteFailed: (err, records) => {
        this.events -= records;
        this.updateGauges();
        this.logger.error({ err }, 'spool write failed');
        return new BusUnavailableError(`spool write failed: ${err.message}`);
      },
      onWritten: () => this.work.notify(),
    });
  }

  /** Bytes on disk plus appends not yet written. */
  private get bytes(): number {
    return this.log.bytes;
  }

  get kind(): Bus['kind'] {
    return this.inner.kind;
  }

  /** Recovers the segments left by an earlier run, starts the inner bus, then the drainer. */
  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    await this.recover();
    try {
      await this.inner.start();
      this.innerStarted = true;
    } catch (err) {
      if (!this.options.startOffline) throw err;
      this.innerOk = false;
      this.logger.warn({ err }, 'bus unavailable at start; spooling until it is reachable');
    }
    this.running = true;
    this.drainer = this.drainLoop();
  }

  private async recover(): Promise<void> {
    this.events += await this.log.recover((contents, name) => {
      const decoded = decodeSegment(contents);
      if (decoded.corrupt > 0) {
        spoolCorrupt.inc(decoded.corrupt);
        this.logger.warn(
          { segment: name, validBytes: decoded.validBytes },
          'torn or corrupt spool record skipped',
        );
      }
      return decoded.messages.length;
    });
    if (this.events > 0) {
      this.logger.info(
        { events: this.events, segments: this.log.closed.length },
        'spool recovered; draining',
      );
    }
    this.updateGauges();
  }

  async produce(topic: string, messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (!this.running) throw new BusUnavailableError('spool is not started');
    if (this.events === 0 && this.innerStarted) {
      try {
        await withTimeout(this.inner.produce(topic, messages), this.options.directTimeoutMs);
        return;
      } catch (err) {
        if (this.innerOk) this.logger.warn({ err }, 'bus unavailable; spooling accepted events to disk');
        this.innerOk = false;
      }
    }
    await this.append(topic, messages);
  }

  /** Resolves once the messages are written and fsync'ed. */
  private append(topic: string, messages: BusMessage[]): Promise<void> {
    const records = messages.map((m) => encodeRecord(topic, m));
    let size = 0;
    for (const r of records) size += r.length;
    if (this.bytes + size > this.options.maxBytes) {
      spoolDropped.inc(messages.length);
      return Promise.reject(
        new SpoolFullError(
          `the bus is unavailable and the spool is full (${this.bytes} of ${this.options.maxBytes} bytes)`,
        ),
      );
    }
    const written = this.log.append(records);
    this.events += messages.length;
    this.updateGauges();
    return written;
  }

  /** Sends closed segments to the inner bus, oldest first; closes the active one when it is all that is left. */
  private async drainLoop(): Promise<void> {
    let backoff = this.options.retryMinMs;
    let failing = !this.innerStarted;
    let loaded: { seq: number; messages: SpooledMessage[]; sent: number } | undefined;
    while (this.running) {
      if (this.log.closed.length === 0 && this.log.activeCount === 0) {
        await this.work.wait();
        continue;
      }
      // A failed direct send means the bus is down: probe before rotating and sending.
      if (!this.innerOk) failing = true;
      if (failing) {
        await this.work.wait(backoff);
        if (!this.running) break;
        backoff = Math.min(backoff * 2, this.options.retryMaxMs);
        if (!this.innerStarted) {
          try {
            await this.inner.start();
            this.innerStarted = true;
          } catch {
            continue;
          }
        }
        if (!(await this.inner.ready())) continue;
      }
      if (this.log.closed.length === 0) {
        await this.log.rotate();
        continue;
      }
      const head = this.log.closed[0]!;
      if (loaded?.seq !== head.seq) {
        let decoded: ReturnType<typeof decodeSegment>;
        try {
          decoded = decodeSegment(await readFile(head.path));
        } catch (err) {
          // Unreadable (e.g. removed by hand): its events are lost; say so and go on with the rest.
          this.logger.error(
            { err, segment: head.path, events: head.count },
            'spool segment unreadable; skipped',
          );
          spoolCorrupt.inc();
          this.log.shiftHead();
          this.events -= head.count;
          this.updateGauges();
          continue;
        }
        // A write that failed half-way leaves fewer readable records than were counted.
        if (decoded.messages.length < head.count) {
          spoolCorrupt.inc(decoded.corrupt);
          this.events -= head.count - decoded.messages.length;
          head.count = decoded.messages.length;
        }
        loaded = { seq: head.seq, messages: decoded.messages, sent: 0 };
      }
      const chunk = nextChunk(
        loaded.messages,
        loaded.sent,
        this.options.drainMessages,
        this.options.drainBytes,
      );
      try {
        if (chunk.length > 0)
          await this.inner.produce(
            chunk[0]!.topic,
            chunk.map((c) => c.message),
          );
      } catch (err) {
        if (!failing) this.logger.warn({ err, events: this.events }, 'draining the spool failed; retrying');
        failing = true;
        this.innerOk = false;
        continue;
      }
      if (failing) this.logger.info({ events: this.events }, 'bus reachable again; draining the spool');
      failing = false;
      this.innerOk = true;
      backoff = this.options.retryMinMs;
      loaded.sent += chunk.length;
      this.events -= chunk.length;
      spoolDrained.inc(chunk.length);
      if (loaded.sent >= loaded.messages.length) {
        await unlink(head.path);
        this.log.shiftHead();
        loaded = undefined;
        if (this.events === 0) this.logger.info('spool drained');
      }
      this.updateGauges();
    }
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.inner.subscribe(options);
  }

  /** Ready while the spool can take events: ingest stays safe even when Kafka is down. */
  async ready(): Promise<boolean> {
    return this.running && this.bytes < this.options.maxBytes;
  }

  async status(): Promise<SpoolStatus> {
    const kafka = this.events === 0 && this.innerStarted ? await this.inner.ready() : this.innerOk;
    return {
      degraded: this.events > 0 || !kafka,
      kafka,
      spool: {
        events: this.events,
        bytes: this.bytes,
        maxBytes: this.options.maxBytes,
        segments: this.log.segments,
      },
    };
  }

  /** Stops draining and writes what is pending; what is left stays on disk for the next start. */
  async stop(): Promise<void> {
    if (this.running) {
      this.running = false;
      this.work.notify();
      await this.drainer;
      await this.log.flush();
    }
    await this.inner.stop();
  }

  private updateGauges(): void {
    spoolEvents.set(this.events);
    spoolBytes.set(this.bytes);
  }
}

/** The next run of messages for one topic, within the request bounds. */
function nextChunk(
  messages: SpooledMessage[],
  from: number,
  maxMessages: number,
  maxBytes: number,
): SpooledMessage[] {
  const first = messages[from];
  if (!first) return [];
  const chunk: SpooledMessage[] = [];
  let bytes = 0;
  for (let i = from; i < messages.length && chunk.length < maxMessages; i++) {
    const m = messages[i]!;
    if (m.topic !== first.topic) break;
    const size = typeof m.message.value === 'string' ? m.message.value.length : m.message.value.length;
    if (chunk.length > 0 && bytes + size > maxBytes) break;
    chunk.push(m);
    bytes += size;
  }
  return chunk;
}

/**
 * Wraps a Kafka bus in the spool configured by `settings.ingest.spool`; the in-memory bus
 * needs none (it lives and dies with the process that produces to it).
 */
export function withSpool(
  bus: Bus,
  settings: Pick<Settings, 'ingest'>,
  logger: Logger,
  options: { startOffline: boolean },
): Bus {
  if (bus.kind !== 'kafka') return bus;
  const { spool } = settings.ingest;
  return new SpoolBus(bus, {
    dir: spool.dir,
    maxBytes: spool.maxBytes,
    directTimeoutMs: spool.kafkaTimeoutMs,
    startOffline: options.startOffline,
    logger,
  });
}
