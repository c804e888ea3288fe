import { ingestRejected } from '../metrics.ts';

/** Reasons in `klaxon_ingest_rejected_total`: a small fixed set, never free text. */
export type RejectReason =
  | 'auth'
  | 'content_type'
  | 'encoding'
  | 'decompress'
  | 'too_large'
  | 'too_many'
  | 'json'
  | 'schema'
  | 'unavailable'
  | 'rate_limited'
  | 'timeout'
  | 'bad_request';

export interface Rejection {
  index: number;
  reason: string;
}

/** Rejections listed one by one in a response; the rest are only counted, by reason. */
export const MAX_LISTED_REJECTIONS = 100;
/** Longest reason text in a response (reasons may quote payload keys). */
export const MAX_REASON_CHARS = 300;

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

/**
 * The rejected items of one request. The answer lists the first MAX_LISTED_REJECTIONS with their reasons and
 * counts every one by reason, so the response (and its memory) stays small whatever the body holds: a body of
 * a million junk items is a count, not a million lines.
 */
export class Rejections {
  readonly listed: Rejection[] = [];
  count = 0;
  readonly byReason: Partial<Record<RejectReason, number>> = {};
  private readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  add(index: number, reason: RejectReason, text: string): void {
    this.count++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    ingestRejected.inc({ source: this.source, reason });
    if (this.listed.length < MAX_LISTED_REJECTIONS) this.listed.push({ index, reason: clip(text) });
  }

  /** The first reason, for a batch rejected whole. */
  summary(): string {
    return this.count === 1 ? this.listed[0]!.reason : `all ${this.count} events were rejected`;
  }

  /** The rejection part of a batch answer; the counts only when the list is cut short. */
  body(): {
    rejected: Rejection[];
    rejected_count?: number;
    rejected_by_reason?: Partial<Record<RejectReason, number>>;
  } {
    if (this.count === this.listed.length) return { rejected: this.listed };
    return { rejected: this.listed, rejected_count: this.count, rejected_by_reason: this.byReason };
  }
}
