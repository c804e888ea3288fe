import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from './sink.ts';

export interface JsonlOptions {
  /** Usually `process.stdout`. */
  stream?: Writable;
  /** Appended to; created when missing. */
  file?: string;
  /** How many alert revisions to remember for suppressing repeats. Default 100 000. */
  rememberLast?: number;
  /** The line written for an alert (default: its JSON); undefined leaves the alert out. */
  line?: (alert: Alert) => string | undefined;
  /** The sink's name in metrics and logs. Default `jsonl`. */
  name?: string;
}

/**
 * Alerts as JSON lines on stdout and/or a file (`klaxon serve`). A line is an append, not an
 * upsert, so repeats of an alert revision already written by this process are skipped (a
 * bounded memory of the last N `alert_id`/`revision` pairs); across restarts, readers should
 * keep the last line per `klaxon.alert_id`.
 */
export class JsonlSink implements Sink {
  readonly name: string;
  private readonly stream: Writable | undefined;
  private readonly path: string | undefined;
  private file: WriteStream | undefined;
  private readonly seen = new Set<string>();
  private readonly rememberLast: number;
  private fileError: Error | undefined;
  private readonly line: (alert: Alert) => string | undefined;

  constructor(opts: JsonlOptions) {
    this.name = opts.name ?? 'jsonl';
    this.line = opts.line ?? ((alert) => JSON.stringify(alert));
    this.stream = opts.stream;
    this.path = opts.file;
    if (this.path) this.file = this.open(this.path);
    this.rememberLast = opts.rememberLast ?? 100_000;
  }

  private open(path: string): WriteStream {
    const file = createWriteStream(path, { flags: 'a' });
    // A stream error must fail the write (no commit), not crash the process.
    file.on('error', (error) => {
      this.fileError = error;
    });
    return file;
  }

  /** The outputs to write to; a file that failed (missing directory, disk full) is opened again. */
  private outputs(): Writable[] {
    if (this.path && this.fileError) {
      this.fileError = undefined;
      this.file = this.open(this.path);
    }
    return [this.stream, this.file].filter((out): out is Writable => out !== undefined);
  }

  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    let text = '';
    let written = 0;
    const added: string[] = [];
    for (const alert of alerts) {
      const key = `${alert.klaxon.alert_id}#${alert.klaxon.revision}`;
      if (this.seen.has(key)) {
        sinkWrites.inc({ sink: this.name, outcome: 'duplicate' });
        continue;
      }
      this.remember(key);
      added.push(key);
      const line = this.line(alert);
      if (line === undefined) continue;
      text += `${line}\n`;
      written++;
    }
    if (text === '') return [];
    try {
      await Promise.all(this.outputs().map((out) => writeText(out, text)));
    } catch (error) {
      // Not written: the caller retries these alerts, so they must not be skipped as repeats then.
      for (const key of added) this.seen.delete(key);
      sinkWrites.inc({ sink: this.name, outcome: 'error' }, written);
      throw new SinkUnavailableError(this.name, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    sinkWrites.inc({ sink: this.name, outcome: 'ok' }, written);
    return [];
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > this.rememberLast) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    if (this.file && !this.fileError) {
      this.file.end();
      await once(this.file, 'close');
    }
  }
}

/** Resolves when the text is handed to the OS (respecting backpressure). */
async function writeText(out: Writable, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
