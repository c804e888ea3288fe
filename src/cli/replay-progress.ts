import { open } from 'node:fs/promises';

/** What `klaxon replay` has done so far, as its progress line shows it. */
export interface ProgressState {
  events: number;
  files: number;
  filesDone: number;
  /** Estimated bytes of content read, and in all (gzip'd files count uncompressed). */
  readBytes: number;
  totalBytes: number;
  elapsedMs: number;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** One line: `120.5k events  48.2k/s  files 1/3  40%  ETA 0:05`. */
export function progressLine(s: ProgressState): string {
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? s.events / seconds : 0;
  const share = s.totalBytes > 0 ? Math.min(1, s.readBytes / s.totalBytes) : 0;
  // Too early for a rate that means anything: no ETA rather than a wild one.
  const eta =
    seconds >= 1 && share > 0
      ? clock((seconds * (1 - share)) / share)
      : s.filesDone === s.files
        ? '0:00'
        : '--';
  return (
    `${compact(s.events)} ${s.events === 1 ? 'event' : 'events'}  ${compact(rate)}/s  files ${s.filesDone}/${s.files}  ` +
    `${Math.floor(share * 100)}%  ETA ${eta}`
  );
}

/**
 * A file's content size: its size on disk, or for gzip its uncompressed size from the
 * trailer (ISIZE, modulo 4 GiB, so never taken below the compressed size).
 */
export async function contentSize(path: string): Promise<number> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size < 18) return size;
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    if (magic[0] !== 0x1f || magic[1] !== 0x8b) return size;
    const trailer = Buffer.alloc(4);
    await handle.read(trailer, 0, 4, size - 4);
    return Math.max(size, trailer.readUInt32LE(0));
  } catch {
    return 0;
  } finally {
    await handle?.close();
  }
}

/** Every this many records of a file, one is measured to estimate how far into the file reading is. */
const SAMPLE_EVERY = 32;

interface FileProgress {
  size: number;
  records: number;
  sampled: number;
  sampledBytes: number;
  done: boolean;
}

export interface ReplayProgressOptions {
  /** Writes to the terminal (stderr). */
  write(text: string): void;
  /** Least time between two redraws. */
  everyMs: number;
  now?: () => number;
}

/**
 * The progress line of `klaxon replay` on a terminal, redrawn in place at most every
 * `everyMs`. The files are read together (merged by event time), so how far each one is
 * is estimated from its records: their count times the measured size of a sample of them.
 */
export class ReplayProgress {
  private readonly files: FileProgress[];
  private readonly opts: ReplayProgressOptions;
  private readonly now: () => number;
  private readonly started: number;
  private events = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private shown = false;

  constructor(sizes: readonly number[], opts: ReplayProgressOptions) {
    this.files = sizes.map((size) => ({ size, records: 0, sampled: 0, sampledBytes: 0, done: false }));
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
  }

  /** A record read from file `index` (valid or not). */
  record(index: number, raw: unknown): void {
    const f = this.files[index];
    if (!f) return;
    if (f.records % SAMPLE_EVERY === 0 && raw !== undefined) {
      f.sampled++;
      f.sampledBytes += (JSON.stringify(raw)?.length ?? 0) + 1;
    }
    f.records++;
  }

  fileDone(index: number): void {
    const f = this.files[index];
    if (f) f.done = true;
  }

  /** An event went through the detections; redraws when due. */
  event(): void {
    this.events++;
    const t = this.now();
    if (t - this.lastDraw < this.opts.everyMs) return;
    this.lastDraw = t;
    this.opts.write(`\r${progressLine(this.state(t))}\x1b[K`);
    this.shown = true;
  }

  /** Removes the line, so other output (a bad record, the summary) starts on a clean line. */
  clear(): void {
    if (!this.shown) return;
    this.opts.write('\r\x1b[K');
    this.shown = false;
    this.lastDraw = Number.NEGATIVE_INFINITY;
  }

  state(t = this.now()): ProgressState {
    let readBytes = 0;
    let totalBytes = 0;
    let filesDone = 0;
    for (const f of this.files) {
      totalBytes += f.size;
      if (f.done) {
        filesDone++;
        readBytes += f.size;
      } else if (f.sampled > 0) {
        readBytes += Math.min(f.size, (f.records * f.sampledBytes) / f.sampled);
      }
    }
    return {
      events: this.events,
      files: this.files.length,
      filesDone,
      readBytes,
      totalBytes,
      elapsedMs: t - this.started,
    };
  }
}
