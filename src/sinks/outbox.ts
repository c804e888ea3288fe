import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Segment, SegmentLog } from '../bus/segment-log.ts';
import { decodeSegment, encodeRecord } from '../bus/spool-record.ts';
import type { Logger } from '../log.ts';
import { sinkQueueAlerts, sinkQueueBytes, sinkQueueCorrupt } from '../metrics.ts';
import { Alert } from '../schema/alert.ts';

/**
 * A sink's bounded durable buffer: alerts its receiver has not confirmed yet, on local disk.
 * The detector may commit once alerts are here, so a slow or dead SIEM holds nothing else
 * up until the buffer is full.
 *
 * It is the ingest spool's segment log (`bus/segment-log.ts`, records framed by
 * `bus/spool-record.ts`): segment files of `[u32 length][u32 CRC32][JSON]` records, appended
 * with one write and one `fdatasync` per group of appends, the directory entry of a new segment
 * `fsync`ed, a torn or corrupt tail skipped and counted on recovery. Records are read back oldest first and a segment is
 * deleted once every record of it is acknowledged; a crash in between re-sends that segment
 * (at-least-once). The active segment is closed whenever the reader has caught up, so in
 * steady state a segment holds one write's alerts and a crash re-sends few.
 */

export interface OutboxOptions {
  /** The sink's own directory; one process at a time (a lock file holds the owner's pid). */
  dir: string;
  maxBytes: number;
  /** A segment is closed once it holds this many bytes (default: maxBytes / 16, 64 KiB - 4 MiB). */
  segmentBytes?: number;
  /** The sink's name: the record's topic field and the metrics label. */
  sink: string;
  logger: Logger;
}

/** No room for the alerts: the sink's write fails and the detector holds its commit. */
export class OutboxFullError extends Error {
  override name = 'OutboxFullError';
}

const LOCK = 'LOCK';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Outbox {
  private readonly opts: Required<Omit<OutboxOptions, 'logger'>>;
  private readonly logger: Logger;
  private readonly log: SegmentLog;
  private count = 0;
  /** The oldest segment, read into memory, and how many of its alerts are acknowledged. */
  private head: { seq: number; alerts: Alert[]; done: number } | undefined;
  private isOpen = false;
  /** An append was refused for lack of room and nothing was sent since. */
  private refused = false;

  constructor(opts: OutboxOptions) {
    this.logger = opts.logger;
    this.opts = {
      dir: opts.dir,
      maxBytes: opts.maxBytes,
      sink: opts.sink,
      segmentBytes:
        opts.segmentBytes ?? Math.min(4 * 1024 * 1024, Math.max(64 * 1024, Math.floor(opts.maxBytes / 16))),
    };
    this.log = new SegmentLog({
      dir: this.opts.dir,
      prefix: 'outbox',
      segmentBytes: this.opts.segmentBytes,
      onWriteFailed: (err, records) => {
        this.count -= records;
        this.updateGauges();
        return new Error(`sink buffer write failed: ${err.message}`);
      },
    });
  }

  /** Bytes on disk plus appends not yet written. */
  private get bytes(): number {
    return this.log.bytes;
  }

  /** Alerts waiting, and their bytes on disk (or about to be). */
  get depth(): { alerts: number; bytes: number; maxBytes: number } {
    return { alerts: this.count, bytes: this.bytes, maxBytes: this.opts.maxBytes };
  }

  /** No room for more (readiness): a write was refused, or the limit is reached, and nothing left since. */
  get full(): boolean {
    return this.refused || this.bytes >= this.opts.maxBytes;
  }

  /** Takes the directory's lock and recovers what an earlier run left. */
  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    await this.lock();
    this.count += await this.log.recover((contents, name) => {
      const { alerts, corrupt } = this.decode(contents);
      this.countCorrupt(corrupt, name);
      return alerts.length;
    });
    if (this.count > 0) this.logger.info({ alerts: this.count }, 'sink buffer recovered; resending');
    this.isOpen = true;
    this.updateGauges();
  }

  /**
   * A second process on the same directory would interleave segments and delete the other's
   * unsent alerts: refuse unless the pid in the lock file is gone.
   */
  private async lock(): Promise<void> {
    const path = join(this.opts.dir, LOCK);
    try {
      // Created exclusively: of two processes starting together, one gets EEXIST.
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(path, 'utf8')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new Error(`${this.opts.dir} is used by process ${owner}; give each process its own directory`);
    }
    // Left by a process that is gone (a crash): take it over.
    await writeFile(path, `${process.pid}\n`);
  }

  /** The alerts of a segment; records that fail their checksum, or are not alerts, count as corrupt. */
  private decode(buf: Buffer): { alerts: Alert[]; corrupt: number } {
    const decoded = decodeSegment(buf);
    let corrupt = decoded.corrupt;
    const alerts: Alert[] = [];
    for (const record of decoded.messages) {
      const parsed = Alert.safeParse(parseJson(String(record.message.value)));
      if (parsed.success) alerts.push(parsed.data);
      else corrupt++;
    }
    return { alerts, corrupt };
  }

  private countCorrupt(records: number, where: string): void {
    if (records <= 0) return;
    sinkQueueCorrupt.inc({ sink: this.opts.sink }, records);
    this.logger.warn({ segment: where, records }, 'torn or corrupt buffer records skipped');
  }

  /** Resolves once the alerts are written and `fdatasync`ed; rejects with OutboxFullError when they do not fit. */
  append(alerts: readonly Alert[]): Promise<void> {
    if (alerts.length === 0) return Promise.resolve();
    if (!this.isOpen) return Promise.reject(new Error('the sink buffer is not open'));
    const records = alerts.map((a) =>
      encodeRecord(this.opts.sink, { key: a.klaxon.alert_id, value: JSON.stringify(a) }),
    );
    let size = 0;
    for (const r of records) size += r.length;
    if (this.bytes + size > this.opts.maxBytes) {
      this.refused = true;
      return Promise.reject(
        new OutboxFullError(
          `buffer full: ${this.bytes} of ${this.opts.maxBytes} bytes hold ${this.count} alerts`,
        ),
      );
    }
    const written = this.log.append(records);
    this.count += alerts.length;
    this.updateGauges();
    return written;
  }

  /**
   * Up to `max` of the oldest alerts not yet acknowledged (the same ones again until `ack`).
   * Empty when nothing waits.
   */
  async peek(max: number): Promise<Alert[]> {
    if (this.log.closed.length === 0) {
      if (this.log.activeCount === 0) return [];
      await this.log.rotate();
      if (this.log.closed.length === 0) return [];
    }
    const segment = this.log.closed[0]!;
    if (this.head?.seq !== segment.seq) {
      let alerts: Alert[];
      try {
        alerts = this.decode(await readFile(segment.path)).alerts;
      } catch (err) {
        this.logger.error(
          { err, segment: segment.path, alerts: segment.count },
          'sink buffer segment unreadable; skipped',
        );
        sinkQueueCorrupt.inc({ sink: this.opts.sink }, segment.count);
        await this.dropHead(segment);
        return this.peek(max);
      }
      // A write that failed half-way leaves fewer readable records than were counted.
      this.countCorrupt(segment.count - alerts.length, segment.path);
      this.count -= segment.count - alerts.length;
      segment.count = alerts.length;
      if (alerts.length === 0) {
        await this.dropHead(segment);
        return this.peek(max);
      }
      this.head = { seq: segment.seq, alerts, done: 0 };
    }
    return this.head.alerts.slice(this.head.done, this.head.done + max);
  }

  /** The first `n` alerts `peek` returned are with the receiver (or dead-lettered) for good. */
  async ack(n: number): Promise<void> {
    const head = this.head;
    const segment = this.log.closed[0];
    if (!head || !segment || head.seq !== segment.seq) return;
    const acked = Math.min(n, head.alerts.length - head.done);
    head.done += acked;
    this.count -= acked;
    if (acked > 0) this.refused = false;
    if (head.done >= head.alerts.length) {
      this.head = undefined;
      await this.removeSegment(segment);
    }
    this.updateGauges();
  }

  /** A segment that cannot be read: its alerts are lost, and counted as corrupt. */
  private async dropHead(segment: Segment): Promise<void> {
    this.count -= segment.count;
    await this.removeSegment(segment);
    this.updateGauges();
  }

  private async removeSegment(segment: Segment): Promise<void> {
    this.log.shiftHead();
    await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Writes what is pending and closes the files; what is unsent stays for the next start. */
  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    await this.log.flush();
    await unlink(join(this.opts.dir, LOCK)).catch(() => {});
  }

  private updateGauges(): void {
    sinkQueueAlerts.set({ sink: this.opts.sink }, this.count);
    sinkQueueBytes.set({ sink: this.opts.sink }, this.bytes);
  }
}
