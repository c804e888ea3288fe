import type { Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { unwrapCloudRecord } from '../normalize/cloud-record.ts';
import { concatenatedValues } from './json-sequence.ts';

/** One record read from a file, or why a part of the file could not be read. */
export type FileRecord = { raw: unknown; where: string } | { error: string; where: string };

/** A file that is one JSON document (not JSON lines) is parsed whole, up to this size. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/** What a directory contributes: audit logs and Falco alert files, possibly gzipped. */
const RECORD_FILE = /\.(json|jsonl|ndjson|log|gz)$/i;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A managed cluster's delivery as records of its audit events; undefined for any other value. */
function cloudRecords(value: unknown, where: string): FileRecord[] | undefined {
  const cloud = unwrapCloudRecord(value);
  return cloud?.batch.items.map((item) => {
    const at = item.where === '' ? where : `${where}#${item.where}`;
    return item.ok ? { raw: item.event, where: at } : { error: item.reason, where: at };
  });
}

/**
 * A parsed value as records: an `EventList`'s items and a JSON array's elements each become one (`where#index`);
 * a managed cluster's delivery (a Firehose request, a CloudWatch Logs subscription payload, `aws logs
 * filter-log-events` output, GKE and AKS exports), alone or in an array, gives its audit events
 * (`where#records[0].logEvents[3]`), leaving out on purpose what is none (control messages, other log streams).
 */
function* expand(value: unknown, where: string): Generator<FileRecord> {
  const cloud = cloudRecords(value, where);
  if (cloud) {
    yield* cloud;
    return;
  }
  let items: unknown[] | undefined;
  if (Array.isArray(value)) {
    items = value;
  } else if (
    value !== null &&
    typeof value === 'object' &&
    (value as { kind?: unknown }).kind === 'EventList'
  ) {
    const listItems = (value as { items?: unknown }).items;
    if (Array.isArray(listItems) || listItems === null) items = listItems ?? [];
  }
  if (items === undefined) {
    yield { raw: value, where };
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const at = `${where}#${i}`;
    yield* cloudRecords(items[i], at) ?? [{ raw: items[i], where: at }];
  }
}

/** JSON lines; `firstLine` numbers the first of `lines`. */
function* parseLines(lines: readonly string[], firstLine: number, file: string): Generator<FileRecord> {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    const where = `${file}:${firstLine + i}`;
    try {
      yield* expand(JSON.parse(line), where);
    } catch (err) {
      yield { error: `invalid JSON: ${message(err)}`, where };
    }
  }
}

/** A buffered multi-line document: whole if it parses, else line by line (it was JSON lines with a broken first line). */
function* parseDocument(lines: readonly string[], firstLine: number, file: string): Generator<FileRecord> {
  let whole: unknown;
  try {
    whole = JSON.parse(lines.join('\n'));
  } catch (err) {
    // Pretty-printed documents one after another (`jq .` output).
    const sequence = concatenatedValues(lines.join('\n'));
    if (sequence) {
      for (const { value, line } of sequence) yield* expand(value, `${file}:${firstLine + line}`);
      return;
    }
    const records = [...parseLines(lines, firstLine, file)];
    if (records.some((r) => 'raw' in r)) {
      yield* records;
    } else {
      yield { error: `invalid JSON: ${message(err)}`, where: `${file}:${firstLine}` };
    }
    return;
  }
  yield* expand(whole, `${file}:${firstLine}`);
}

async function openStream(path: string): Promise<Readable> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    const stream = handle.createReadStream({ start: 0 });
    if (bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
      const gunzip = createGunzip();
      stream.on('error', (err) => gunzip.destroy(err));
      return stream.pipe(gunzip);
    }
    return stream;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads audit log files (JSON lines as the API server's log backend writes
 * them, `EventList` documents, JSON arrays, possibly pretty-printed), managed
 * clusters' exports (EKS: `aws logs filter-log-events` output, CloudWatch Logs
 * subscription payloads, Firehose request bodies; GKE, AKS) and Falco alert
 * JSON lines; gzip is detected by its magic bytes. Streams line by line;
 * a file whose first line is not JSON on its own is taken as one document and
 * parsed whole (up to MAX_DOCUMENT_BYTES). `where` is `file:line`, with
 * `#index` for an item of an `EventList` or array. A broken line yields an
 * error record and reading continues; a file that cannot be opened yields one
 * error record whose `where` is the bare path.
 */
export async function* readRecords(path: string): AsyncGenerator<FileRecord> {
  let input: Readable;
  try {
    input = await openStream(path);
  } catch (err) {
    yield { error: `cannot open: ${message(err)}`, where: path };
    return;
  }
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let mode: 'start' | 'lines' | 'document' = 'start';
  let doc: string[] = [];
  let docStart = 0;
  let docBytes = 0;
  try {
    for await (const read of lines) {
      lineNo++;
      const line = lineNo === 1 && read.charCodeAt(0) === 0xfeff ? read.slice(1) : read;
      if (mode === 'document') {
        doc.push(line);
        docBytes += line.length + 1;
        if (docBytes > MAX_DOCUMENT_BYTES) {
          yield {
            error: `document larger than ${MAX_DOCUMENT_BYTES} bytes; reading it as JSON lines`,
            where: `${path}:${docStart}`,
          };
          yield* parseLines(doc, docStart, path);
          doc = [];
          mode = 'lines';
        }
        continue;
      }
      const trimmed = line.trim();
      if (trimmed === '') continue;
      try {
        const value: unknown = JSON.parse(trimmed);
        mode = 'lines';
        yield* expand(value, `${path}:${lineNo}`);
      } catch (err) {
        if (mode === 'start' && (trimmed[0] === '{' || trimmed[0] === '[')) {
          mode = 'document';
          doc = [line];
          docStart = lineNo;
          docBytes = line.length + 1;
          continue;
        }
        mode = 'lines';
        yield { error: `invalid JSON: ${message(err)}`, where: `${path}:${lineNo}` };
      }
    }
    if (mode === 'document') yield* parseDocument(doc, docStart, path);
  } catch (err) {
    yield { error: `read error: ${message(err)}`, where: `${path}:${lineNo}` };
  } finally {
    input.destroy();
  }
}

export interface ExpandedPaths {
  files: string[];
  errors: { path: string; error: string }[];
}

/**
 * Files to read for the given paths: a file as given (whatever its name), a
 * directory as its `.json`, `.jsonl`, `.ndjson`, `.log` and `.gz` files, recursively, sorted.
 */
export async function expandPaths(paths: readonly string[]): Promise<ExpandedPaths> {
  const result: ExpandedPaths = { files: [], errors: [] };
  for (const path of paths) {
    try {
      const info = await stat(path);
      if (!info.isDirectory()) {
        result.files.push(path);
        continue;
      }
      const entries: Dirent[] = await readdir(path, { withFileTypes: true, recursive: true });
      const found = entries
        .filter((entry) => entry.isFile() && RECORD_FILE.test(entry.name))
        .map((entry) => join(entry.parentPath, entry.name))
        .sort();
      result.files.push(...found);
    } catch (err) {
      result.errors.push({ path, error: message(err) });
    }
  }
  return result;
}
