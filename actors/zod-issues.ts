// How a zod failure is told: one line of paths and rules, never the values, because what failed
// may be a stored record holding personal data or a document a log line must not copy.

import type { z } from 'zod';

/** Longest description kept: enough for every issue of a malformed record, bounded for logs and reject rows. */
export const issues_chars_max = 1_000;

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    .join('; ')
    .slice(0, issues_chars_max);
}
