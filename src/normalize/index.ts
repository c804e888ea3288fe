import { normalizeAudit } from './audit.ts';
import { normalizeFalco } from './falco.ts';
import { isRecord } from './redact.ts';
import type { NormalizeContext, NormalizeResult } from './types.ts';

export { normalizeAudit } from './audit.ts';
export { normalizeFalco } from './falco.ts';
export type { NormalizeContext, NormalizeResult } from './types.ts';

/** A Falco alert names a `rule` and has an `output`, `priority` or `output_fields`; audit events have none of these. */
export function isFalcoShaped(raw: unknown): boolean {
  if (!isRecord(raw) || !Object.hasOwn(raw, 'rule') || Object.hasOwn(raw, 'auditID')) return false;
  return (
    Object.hasOwn(raw, 'output') || Object.hasOwn(raw, 'priority') || Object.hasOwn(raw, 'output_fields')
  );
}

/** Audit event or Falco alert, told apart by shape. Never throws. */
export function normalizeAny(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return isFalcoShaped(raw) ? normalizeFalco(raw, ctx) : normalizeAudit(raw, ctx);
}
