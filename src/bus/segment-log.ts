import type { FileHandle } from 'node:fs/promises';
import { open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * An append-only log of segment files in one directory, the durable half of the ingest spool
 * (`spool.ts`) and of the SIEM sinks' buffers (`sinks/outbox.ts`). Records are opaque buffers
 * (framed by `spool-record.ts`). Appends are grouped: every append waiting when the disk is free
 * goes out with one write and one `fdatasync`, into the active segment, which is closed once it
 * holds `segmentBytes`; the directory entry of a new segment is `fsync`ed. Readers take the
 * closed segments oldest first and shift one off once it is consumed. What to do with a record,
 * what counts as corrupt, and how full is too full, is the owner's.
 */

export interface Segment {
  seq: number;
  path: string;
  bytes: number;
  /** Records in it; the owner lowers it when fewer than written can be read back. */
  count: number;
}

interface ActiveSegment extends Segment {
  handle: FileHandle;
}

interface PendingAppend {
  records: Buffer[];
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface SegmentLogOptions {
  dir: string;
  /** File names are `<prefix>-<12-digit seq>.seg`. */
  prefix: string;
  /** The active segment is closed once it holds this many bytes. */
  segmentBytes: number;
  /**
   * A group write failed (the log has already taken its bytes back): the owner takes back its
   * own counts and returns the error every append of the group is rejected with.
   */
  onWriteFailed: (err: Error, records: number) => Error;
  /** A group write is durable. */
  onWritten?: () => void;
}

export class SegmentLog {
  /** Closed segments, oldest first. */
  readonly closed: Segment[] = [];
  private active: ActiveSegment | undefined;
  private nextSeq = 1;
  private byteCount = 0;
  private pending: PendingAppend[] = [];
  private writeScheduled = false;
  /** File operations run one at a time, in order. */
  private io: Promise<void> = Promise.resolve();
  private readonly opts: SegmentLogOptions;
  private readonly segmentName: RegExp;

  constructor(opts: SegmentLogOptions) {
    this.opts = opts;
    this.segmentName = new RegExp(`^${opts.prefix}-(\\d{12})\\.seg$`);
  }

  /** Bytes on disk plus appends not yet written. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Records written to the active segment. */
  get activeCount(): number {
    return this.active?.count ?? 0;
  }

  get segments(): number {
    return this.closed.length + (this.active ? 1 : 0);
  }

  /**
   * Takes over the segments an earlier run left, oldest first. `valid` reads a segment and says
   * how many of its records count; a segment with none is deleted. Returns those records' total.
   */
  async recover(valid: (contents: Buffer, name: string) => number): Promise<number> {
    const names = (await readdir(this.opts.dir)).filter((n) => this.segmentName.test(n)).sort();
    let records = 0;
    for (const name of names) {
      const seq = Number(this.segmentName.exec(name)![1]);
      const path = join(this.opts.dir, name);
      const count = valid(await readFile(path), name);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      if (count === 0) {
        await unlink(path);
        continue;
      }
      const { size } = await stat(path);
      this.closed.push({ seq, path, bytes: size, count });
      this.byteCount += size;
      records += count;
    }
    return records;
  }

  /** Counts the records' bytes at once; resolves once they are written and `fdatasync`ed. */
  append(records: Buffer[]): Promise<void> {
    for (const r of records) this.byteCount += r.length;
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      if (!this.writeScheduled) {
        this.writeScheduled = true;
        void this.enqueueIo(() => this.writePending());
      }
    });
  }

  /** Closes the active segment (after the writes queued before), so readers can take it. */
  rotate(): Promise<void> {
    return this.enqueueIo(() => this.closeActive());
  }

  /** Writes what is pending and closes the active segment. */
  async flush(): Promise<void> {
    await this.enqueueIo(() => this.writePending());
    await this.rotate();
  }

  /** Forgets the oldest closed segment (the owner deletes its file, or found it gone). */
  shiftHead(): Segment | undefined {
    const head = this.closed.shift();
    if (head) this.byteCount -= head.bytes;
    return head;
  }

  private enqueueIo(op: () => Promise<void>): Promise<void> {
    const run = this.io.then(op);
    this.io = run.catch(() => {});
    return run;
  }

  private async writePending(): Promise<void> {
    this.writeScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const records = batch.flatMap((p) => p.records);
    const buf = Buffer.concat(records);
    try {
      if (this.active && this.active.bytes >= this.opts.segmentBytes) await this.closeActive();
      const active = this.active ?? (await this.openActive());
      await active.handle.write(buf, 0, buf.length);
      await active.handle.datasync();
      active.bytes += buf.length;
      active.count += records.length;
    } catch (err) {
      this.byteCount -= buf.length;
      const failure = this.opts.onWriteFailed(err as Error, records.length);
      // The segment may end in a torn record now: close it so later appends start clean.
      await this.closeActive().catch(() => {});
      for (const p of batch) p.reject(failure);
      return;
    }
    for (const p of batch) p.resolve();
    this.opts.onWritten?.();
  }

  private async openActive(): Promise<ActiveSegment> {
    const seq = this.nextSeq++;
    const path = join(this.opts.dir, `${this.opts.prefix}-${String(seq).padStart(12, '0')}.seg`);
    const handle = await open(path, 'wx');
    // The new file's directory entry must be durable too, or a crash could lose the whole segment.
    const dir = await open(this.opts.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.active = { seq, path, bytes: 0, count: 0, handle };
    return this.active;
  }

  private async closeActive(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await active.handle.close();
    if (active.count === 0) {
      await unlink(active.path);
      this.byteCount -= active.bytes;
      return;
    }
    const { handle: _handle, ...segment } = active;
    this.closed.push(segment);
  }
}
