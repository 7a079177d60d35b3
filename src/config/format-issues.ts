import type { z } from 'zod';

/** One line per problem, each prefixed with the dotted path of the field it concerns. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
}
