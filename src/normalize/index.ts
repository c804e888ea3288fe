import { recognize } from '../datasets/index.ts';
import type { NormalizeContext, NormalizeResult } from './types.ts';

export { normalizeAudit } from './audit.ts';
export { isFalcoShaped, normalizeFalco } from './falco.ts';
export type { NormalizeContext, NormalizeResult } from './types.ts';

/** A raw item of any dataset (audit event, Falco alert, Hubble flow), told apart by shape. Never throws. */
export function normalizeAny(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return recognize(raw).normalize(raw, ctx);
}
