import { crc32 } from 'node:zlib';
import type { BusMessage } from './types.ts';

/**
 * On-disk framing of one spooled message: `[u32 LE payload length][u32 LE CRC32 of payload][payload]`.
 * The payload is JSON `{t: topic, k: key, v: value, b?: 1 when v is base64, h?: headers}`.
 * Pure functions: the spool does the I/O.
 */

export interface SpooledMessage {
  topic: string;
  message: BusMessage;
}

const HEADER = 8;
/** A length beyond this is a corrupt header, not a record (ingest bodies are capped far below). */
const MAX_PAYLOAD = 256 * 1024 * 1024;

interface Payload {
  t: string;
  k: string | null;
  v: string;
  b?: 1;
  h?: Record<string, string>;
}

export function encodeRecord(topic: string, message: BusMessage): Buffer {
  const binary = typeof message.value !== 'string';
  const payload: Payload = {
    t: topic,
    k: message.key,
    v: binary ? (message.value as Buffer).toString('base64') : (message.value as string),
    ...(binary ? { b: 1 as const } : {}),
    ...(message.headers ? { h: message.headers } : {}),
  };
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const record = Buffer.allocUnsafe(HEADER + body.length);
  record.writeUInt32LE(body.length, 0);
  record.writeUInt32LE(crc32(body), 4);
  body.copy(record, HEADER);
  return record;
}

export interface DecodedSegment {
  messages: SpooledMessage[];
  /** Bytes of intact records from the start; anything after is a torn or corrupt tail. */
  validBytes: number;
  /** 1 when the segment ends in a torn or corrupt record (the rest of the segment is skipped), else 0. */
  corrupt: number;
}

function isPayload(v: unknown): v is Payload {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.t === 'string' &&
    (p.k === null || typeof p.k === 'string') &&
    typeof p.v === 'string' &&
    (p.h === undefined || (typeof p.h === 'object' && p.h !== null))
  );
}

/**
 * Reads the records of a segment in order. A record whose length runs past the end (torn
 * write) or whose checksum does not match ends the segment: the framing after it cannot be
 * trusted, so the tail is counted once and skipped.
 */
export function decodeSegment(buf: Buffer): DecodedSegment {
  const messages: SpooledMessage[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER) return { messages, validBytes: at, corrupt: 1 };
    const length = buf.readUInt32LE(at);
    const sum = buf.readUInt32LE(at + 4);
    if (length > MAX_PAYLOAD || at + HEADER + length > buf.length) {
      return { messages, validBytes: at, corrupt: 1 };
    }
    const body = buf.subarray(at + HEADER, at + HEADER + length);
    if (crc32(body) !== sum) return { messages, validBytes: at, corrupt: 1 };
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return { messages, validBytes: at, corrupt: 1 };
    }
    if (!isPayload(payload)) return { messages, validBytes: at, corrupt: 1 };
    messages.push({
      topic: payload.t,
      message: {
        key: payload.k,
        value: payload.b === 1 ? Buffer.from(payload.v, 'base64') : payload.v,
        ...(payload.h ? { headers: payload.h } : {}),
      },
    });
    at += HEADER + length;
  }
  return { messages, validBytes: at, corrupt: 0 };
}
