import type { z } from 'zod';

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
