import type { z } from 'zod';
import type { NormalizeContext, NormalizeResult } from './types.ts';

/** One short, specific reason from a zod failure: `missing auditID`, `kind: expected "Event"`. */
export function describeIssue(issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  const message = issue.message.replace(/^Invalid (input|option): /, '');
  if (issue.code === 'invalid_type' && message.endsWith('received undefined')) {
    return path === '' ? 'expected a JSON object' : `missing ${path}`;
  }
  return path === '' ? message : `${path}: ${message}`;
}

/** Runs a normalizer so that nothing escapes it: a throw becomes a `cannot normalize` reason. */
export function withoutThrowing(
  normalize: (raw: unknown, ctx: NormalizeContext) => NormalizeResult,
  raw: unknown,
  ctx: NormalizeContext,
): NormalizeResult {
  try {
    return normalize(raw, ctx);
  } catch (err) {
    return { ok: false, reason: `cannot normalize: ${err instanceof Error ? err.message : String(err)}` };
  }
}
