import type { NormalizedEvent } from '../schema/event.ts';

/** What the normalizer needs besides the raw payload. */
export interface NormalizeContext {
  /** From the credential that sent the event, never from the payload. */
  cluster: string;
  /** ISO time the event reached Klaxon (for `event.ingested`). */
  receivedAt?: string;
}

export type NormalizeResult = { ok: true; event: NormalizedEvent } | { ok: false; reason: string };

export function normalizeAudit(_raw: unknown, _ctx: NormalizeContext): NormalizeResult {
  return { ok: false, reason: 'audit normalizer not built yet' };
}

export function normalizeFalco(_raw: unknown, _ctx: NormalizeContext): NormalizeResult {
  return { ok: false, reason: 'falco normalizer not built yet' };
}

/** Audit event or Falco alert, told apart by shape. */
export function normalizeAny(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return normalizeAudit(raw, ctx);
}
